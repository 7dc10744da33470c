"""Hyperparameter search for meld-tf with KerasTuner (``python tuning/search.py``)."""
