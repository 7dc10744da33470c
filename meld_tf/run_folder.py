"""The life of a run folder: its files, finding or resuming it, reopening and finishing it.

* ``resolve_run_dir(request, config)``: the folder a run writes, and whether it resumes
  there (``--out``, else the newest unfinished run the request asks for, else
  ``runs/<timestamp>-<modalities>``).
* ``start_run(run_dir, config, preprocessor, resuming)``: the folder with ``config.json``
  and ``preprocessor/``, before the first epoch.
* ``restore_best_weights(model, run_dir)``, ``read_history(run_dir)``: what the callbacks
  (`meld_tf.callbacks`) left there.
* ``write_results(...)``: ``model.keras``, ``metrics.json``, the report and the plots;
  ``write_predictions`` / ``read_predictions``: the dev and test probabilities.
* ``run_files(run_dir)``, ``read_metrics(run_dir)``: what a finished run left, read back
  by `meld_tf.task.MeldClassifier.from_run` (the one way a run is reopened: evaluate,
  inspection, predict, export, bench).

ARCHITECTURE.md lists what each file holds.
"""

import csv
import datetime
import glob
import json
import os

import numpy as np

from meld_tf import plots
from meld_tf.labels import HEADS
from meld_tf.metrics import classification_report
from meld_tf.run_data import RunError, describe_data
from meld_tf.train_config import MONITORS, TrainConfig

RUNS_ROOT = "runs"
# Files of a run folder.
CONFIG_FILE = "config.json"
PREPROCESSOR_DIR = "preprocessor"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
REPORT_FILE = "classification_report.txt"
HISTORY_FILE = "history.csv"
BEST_WEIGHTS_FILE = "best.weights.h5"
BACKUP_DIR = "backup"
STATE_FILE = "training_state.json"  # in BACKUP_DIR
LOGS_DIR = "logs"


# Finding the folder of a run.


def default_run_dir(config):
    """``runs/<timestamp>-<modalities>``."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join(RUNS_ROOT, f"{stamp}-{'-'.join(config.model.modalities)}")


def asks_for(request, saved):
    """Whether a run's saved (resolved) config is what ``request`` asks for, the data
    that ``request`` leaves to resolve (``auto``, no version, no folder) aside."""
    unset = {
        name: getattr(saved, name)
        for name, empty in (("dataset", "auto"), ("dataset_version", ""), ("data_dir", ""))
        if getattr(request, name) == empty
    }
    return request.replace(**unset) == saved


def find_unfinished_run(request, root=RUNS_ROOT):
    """The newest run folder under ``root`` that ``request`` asks for, with a backup."""
    for path in sorted(glob.glob(os.path.join(root, "*", CONFIG_FILE)), reverse=True):
        run_dir = os.path.dirname(path)
        if not os.path.isdir(os.path.join(run_dir, BACKUP_DIR)):
            continue
        try:
            if asks_for(request, TrainConfig.load(path)):
                return run_dir
        except ValueError:
            continue
    return None


def resolve_run_dir(request, config):
    """``(run folder, resuming)`` of a run; refuses a folder holding a finished run, or an
    unfinished run with another config or on other data.

    Args:
        request: the config as given (its dataset may be ``auto``).
        config: the same, resolved by `meld_tf.run_data.resolve_data`.
    """
    run_dir = request.out or find_unfinished_run(request) or default_run_dir(config)
    if os.path.isfile(os.path.join(run_dir, MODEL_FILE)):
        raise RunError(
            f"Run folder {run_dir} already holds a finished run; choose another --out."
        )
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.isfile(config_path):
        saved = TrainConfig.load(config_path)
        if asks_for(request, saved) and saved != config:
            raise RunError(
                f"Run folder {run_dir} holds an unfinished run on {describe_data(saved)}, but "
                f"the data is now {describe_data(config)}: it will not resume on other data. "
                f"Resume it with --config {config_path}, or choose another --out."
            )
        if saved != config:
            raise RunError(
                f"Run folder {run_dir} holds an unfinished run with another config; resume it "
                f"with --config {config_path} or choose another --out."
            )
    resuming = os.path.isdir(os.path.join(run_dir, BACKUP_DIR))
    return run_dir, resuming


# During a run.


def start_run(run_dir, config, preprocessor, resuming):
    """Makes ``run_dir`` and writes ``config.json`` and ``preprocessor/`` into it.

    A run that does not resume first removes the history and best weights of an earlier
    run there that never saved an epoch (they would mislead).
    """
    os.makedirs(run_dir, exist_ok=True)
    if not resuming:
        for name in (HISTORY_FILE, BEST_WEIGHTS_FILE):
            if os.path.isfile(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
    config.save(os.path.join(run_dir, CONFIG_FILE))
    preprocessor.save(os.path.join(run_dir, PREPROCESSOR_DIR))


def restore_best_weights(model, run_dir):
    """Loads the best epoch's weights into ``model`` and removes their file (``model.keras``
    will hold them); returns ``model``. The file is absent only if no epoch had a finite
    monitor, and then ``model`` keeps its last weights."""
    best_weights = os.path.join(run_dir, BEST_WEIGHTS_FILE)
    if os.path.isfile(best_weights):
        model.load_weights(best_weights)
        os.remove(best_weights)
    return model


def read_history(run_dir):
    """Rows of ``history.csv`` (one per epoch; a re-run epoch keeps its last row)."""
    path = os.path.join(run_dir, HISTORY_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    return [rows[epoch] for epoch in sorted(rows)]


# A finished run.


def write_results(run_dir, model, config, info, validation, test, history, adjustment=None):
    """Saves the model, the metrics, the report and the plots of a finished run
    (``adjustment``: the logit adjustment chosen on dev, `meld_tf.trainer`)."""
    model.save(os.path.join(run_dir, MODEL_FILE))
    sign = 1 if MONITORS[config.monitor] == "min" else -1
    best_epoch = min(range(len(history)), key=lambda i: sign * float(history[i][config.monitor]))
    results = {
        "dataset": info["dataset"],
        "dataset_version": config.dataset_version,
        "num_examples": info["num_examples"],
        "train_emotion_counts": info["emotion_counts"],
        "epochs_run": len(history),
        "best_epoch": best_epoch + 1,
        "selection": f"best epoch by {config.monitor}; test scored once, after training",
        "validation": validation,
        "test": test,
    }
    if adjustment:
        results["logit_adjustment"] = adjustment
    with open(os.path.join(run_dir, METRICS_FILE), "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    reports = [f"meld-tf run {run_dir}: dataset {info['dataset']}"]
    for split, metrics in (("validation", validation), ("test", test)):
        for head, classes in HEADS.items():
            title = f"\n{split} / {head}" + (" (test: computed once, at the end)" if
                                             split == "test" else "")
            reports.append(classification_report(metrics[head], classes, title=title))
            plots.plot_confusion_matrix(
                metrics[head]["confusion_matrix"],
                classes,
                os.path.join(run_dir, f"confusion_{split}_{head}.png"),
                title=f"{head} ({split})",
            )
    with open(os.path.join(run_dir, REPORT_FILE), "w", encoding="utf-8") as file:
        file.write("\n".join(reports) + "\n")
    plots.plot_training_curves(history, os.path.join(run_dir, "training_curves.png"))


def write_predictions(run_dir, predictions):
    """Writes ``{split: (labels, probabilities)}`` (`meld_tf.scoring.predict_split`, per
    head) to the run's ``predictions.npz``, as ``<split>/<head>/labels`` (class indices)
    and ``<split>/<head>/probabilities``: what a later analysis of the scores reads
    without the model (e.g. `meld_tf.calibration`)."""
    arrays = {}
    for split, (labels, probabilities) in predictions.items():
        for head in labels:
            arrays[f"{split}/{head}/labels"] = labels[head]
            arrays[f"{split}/{head}/probabilities"] = probabilities[head]
    np.savez_compressed(os.path.join(run_dir, PREDICTIONS_FILE), **arrays)


def read_predictions(run_dir):
    """``{split: (labels, probabilities)}`` per head, as ``write_predictions`` wrote them;
    raises ``RunError`` for a run without them (finished before 2026-12-01)."""
    path = os.path.join(run_dir, PREDICTIONS_FILE)
    if not os.path.isfile(path):
        raise RunError(f"{run_dir} has no {PREDICTIONS_FILE}; train the run again to get it.")
    predictions = {}
    with np.load(path) as arrays:
        for key in arrays.files:
            split, head, kind = key.split("/")
            labels, probabilities = predictions.setdefault(split, ({}, {}))
            (labels if kind == "labels" else probabilities)[head] = arrays[key]
    return predictions


def read_metrics(run_dir):
    """The run's ``metrics.json`` as a dict (empty if it has none)."""
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def run_files(run_dir):
    """``(config.json, model.keras, preprocessor/)`` paths of a finished run folder;
    raises ``RunError`` if it is not one. `meld_tf.task.MeldClassifier.from_run` reads
    them."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    model_path = os.path.join(run_dir, MODEL_FILE)
    for path in (config_path, model_path):
        if not os.path.isfile(path):
            raise RunError(
                f"{run_dir} is not a finished run folder: {os.path.basename(path)} is missing "
                "(train one with python -m meld_tf.train)."
            )
    return config_path, model_path, os.path.join(run_dir, PREPROCESSOR_DIR)
