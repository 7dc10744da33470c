"""The trial table of a search folder: hyperparameters, objective, epochs, time; best first.

It reads only files (KerasTuner's ``trial_*/trial.json`` and the ``meld_trial.json`` that
``tuning.search`` writes beside each), so it works on a running, an interrupted or a
distributed search alike.
"""

import glob
import json
import os

TRIAL_RECORD = "meld_trial.json"
"""Per-trial record written by the search: ``tuner_id``, ``epochs``, ``seconds``."""


def load_trials(project_dir):
    """Returns one dict per trial of the KerasTuner project in ``project_dir``.

    Keys: ``trial_id``, ``status``, ``score`` (None unless completed), ``best_epoch``
    (1-based, counting the epochs of the trial it continues for Hyperband),
    ``hyperparameters`` (dict, KerasTuner's ``tuner/*`` bookkeeping removed),
    ``warm_start`` (the trial whose weights a Hyperband trial continues, else None),
    ``epochs`` (epochs trained in this trial), ``seconds`` (its wall time) and
    ``tuner_id`` (which tuner process ran it); the last three are None for a trial that
    has not finished.
    """
    trials = []
    for path in sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json"))):
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
        record_path = os.path.join(os.path.dirname(path), TRIAL_RECORD)
        record = {}
        if os.path.isfile(record_path):
            with open(record_path, encoding="utf-8") as file:
                record = json.load(file)
        values = state["hyperparameters"]["values"]
        trials.append(
            {
                "trial_id": state["trial_id"],
                "status": state["status"],
                "score": state["score"] if state["status"] == "COMPLETED" else None,
                "best_epoch": (
                    state["best_step"] + 1 + values.get("tuner/initial_epoch", 0)
                    if state["status"] == "COMPLETED"
                    else None
                ),
                "hyperparameters": {k: v for k, v in values.items() if not k.startswith("tuner/")},
                "warm_start": values.get("tuner/trial_id"),
                "epochs": record.get("epochs"),
                "seconds": record.get("seconds"),
                "tuner_id": record.get("tuner_id"),
            }
        )
    return sort_trials(trials)


def sort_trials(trials):
    """Completed trials by score, best (highest) first, then the others by id."""
    completed = sorted(
        (t for t in trials if t["score"] is not None), key=lambda t: (-t["score"], t["trial_id"])
    )
    others = sorted((t for t in trials if t["score"] is None), key=lambda t: t["trial_id"])
    return completed + others


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value != 0 else f"{value:.4g}"
    return str(value)


def format_table(trials, objective):
    """A plain-text table of ``trials`` (as from ``load_trials``), one row per trial.

    Columns: trial id, status, objective, best epoch, epochs trained, seconds, tuner id,
    for Hyperband the trial it continues (``from``), then the hyperparameters.
    """
    names = []
    for trial in trials:
        names += [n for n in trial["hyperparameters"] if n not in names]
    warm = any(trial["warm_start"] is not None for trial in trials)  # Hyperband
    header = ["trial", "status", objective, "best_ep", "epochs", "time_s", "tuner"]
    header += ["from"] * warm + names
    rows = [
        [
            trial["trial_id"],
            trial["status"].lower(),
            f"{trial['score']:.4f}" if trial["score"] is not None else "-",
            _format(trial["best_epoch"]),
            _format(trial["epochs"]),
            f"{trial['seconds']:.1f}" if trial["seconds"] is not None else "-",
            _format(trial["tuner_id"]),
            *[_format(trial["warm_start"])] * warm,
            *(_format(trial["hyperparameters"].get(n)) for n in names),
        ]
        for trial in trials
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(f"{cell:>{w}}" for cell, w in zip(line, widths)) for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
