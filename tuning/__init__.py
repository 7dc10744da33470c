"""Hyperparameter search for meld-tf with KerasTuner (``python tuning/search.py``).

`hypermodel` (the search space and the hypermodel), `settings` (a search's settings and
objectives), `tuners` (the KerasTuner tuners, the distributed role), `summary` (the trial
table) and `search` (running a search, and its command line).
"""
