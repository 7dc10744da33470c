"""The KerasTuner tuners of a search, and this process's part in a distributed one.

`TUNERS` maps each algorithm (``random``, ``hyperband``, ``bayesian``) to its KerasTuner
class, extended to write ``meld_trial.json`` (tuner id, epochs, seconds) beside each trial.
A distributed search is set up by KerasTuner's environment variables alone
(``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``):
`is_distributed` and `is_worker` read them.
"""

import json
import os
import time

import keras_tuner

from tuning.summary import TRIAL_RECORD


class _TrialRecorder:
    """Tuner mixin: writes ``meld_trial.json`` (tuner id, epochs, seconds) per trial."""

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        histories = super().run_trial(trial, *args, **kwargs)
        record = {
            "tuner_id": self.tuner_id,
            "epochs": sum(len(history.epoch) for history in histories),
            "seconds": round(time.perf_counter() - start, 2),
        }
        path = os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_RECORD)
        with open(path, "w", encoding="utf-8") as file:
            json.dump(record, file)
        return histories


TUNERS = {
    name: type(f"Meld{base.__name__}", (_TrialRecorder, base), {})
    for name, base in (
        ("random", keras_tuner.RandomSearch),
        ("hyperband", keras_tuner.Hyperband),
        ("bayesian", keras_tuner.BayesianOptimization),
    )
}


def is_distributed():
    return "KERASTUNER_ORACLE_IP" in os.environ


def is_worker():
    """A distributed tuner that is not the chief (runs trials, owns no results)."""
    return is_distributed() and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", "")
