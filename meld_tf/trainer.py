"""Training as a library: the reusable pieces of a run, and ``train(config)``.

The CLI ``meld_tf.train``, the hyperparameter tuner and distributed training all call
these pieces; there is no other training loop.

* ``resolve_data(config)`` (`meld_tf.run_data`): the config with its data spelt out
  (dataset, version, folder), as ``config.json`` records it.
* ``make_datasets(config)`` -> ``(train, validation, test, info)`` batched datasets.
* ``build_model(config)``: the one place a model is made (call it inside a
  ``tf.distribute`` strategy scope to distribute it).
* ``compile_model(model, config)``: AdamW, label-smoothed cross-entropy on both heads,
  loss weights, accuracy and weighted/macro F1 per head.
* ``make_callbacks(config, run_dir, epoch)`` (`meld_tf.callbacks`): the training order
  of each epoch, best weights, early stopping, learning-rate reduction, TensorBoard and
  CSV logs, and an exact resume.
* ``train(config)`` -> run folder with ``config.json``, ``model.keras``,
  ``metrics.json``, a classification report and plots.
"""

import datetime
import glob
import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from meld_tf import data as meld_data
from meld_tf import distribute, plots
from meld_tf.callbacks import (  # noqa: F401  (read_history: part of this module's API)
    BACKUP_DIR,
    BEST_WEIGHTS_FILE,
    HISTORY_FILE,
    make_callbacks,
    read_history,
)
from meld_tf.labels import EMOTIONS, HEADS, SPLITS
from meld_tf.metrics import classification_metrics, classification_report, head_metrics
from meld_tf.models import build_classifier
from meld_tf.models.audio_encoder import adapt_audio_normalization
from meld_tf.optimizer import make_optimizer
from meld_tf.preprocessor import MeldPreprocessor, balanced_class_weights, media_of, split_metadata
from meld_tf.run_data import RunError, choose_dataset, describe_data, resolve_data  # noqa: F401
from meld_tf.train_config import MONITORS, TrainConfig

RUNS_ROOT = "runs"
# Files of a run folder.
CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
REPORT_FILE = "classification_report.txt"
PREPROCESSOR_DIR = "preprocessor"


# Data.


def load_splits(config, dataset=None):
    """``{"train", "validation", "test"}`` examples of the config's dataset (or of
    ``dataset``), prepared if needed."""
    dataset = dataset or config.dataset
    if dataset == "text" and set(config.model.modalities) != {"text"}:
        raise RunError(
            f"Modalities {config.model.modalities} need clips, but dataset 'text' holds text "
            "only; use --dataset full or sample, or --modalities text."
        )
    splits = meld_data.load_meld(
        dataset, data_dir=config.data_dir or None, manual_dir=config.manual_dir or None
    )
    if config.max_examples:
        splits = {name: split.take(config.max_examples) for name, split in splits.items()}
    return splits


def emotion_counts(data):
    """Examples per emotion in a ``preprocess``-ed split."""
    labels = data.map(lambda inputs, labels: tf.argmax(labels["emotion"], axis=-1))
    counts = np.zeros(len(EMOTIONS), np.int64)
    for label in labels.as_numpy_iterator():
        counts[label] += 1
    return counts


def make_datasets(config, verbose=True):
    """Loads, preprocesses (once) and batches the three splits of the run's dataset.

    Returns:
        ``(train, validation, test, info)``: batched ``tf.data.Dataset`` s (train shuffled
        in the order of ``(config.seed, epoch)``, with emotion sample weights if
        ``config.class_weights == "balanced"``), and ``info``: ``{"config"`` (resolved by
        `resolve_data`), ``"reason", "preprocessor", "num_examples", "emotion_counts",
        "epoch"}``; ``epoch`` is the variable that sets the training order's epoch
        (`meld_tf.callbacks.DataOrder`).
    """
    config, reason = resolve_data(config)
    if verbose:
        print(f"Dataset: {describe_data(config)} ({reason}).", flush=True)
    splits = load_splits(config)
    preprocessor = MeldPreprocessor.from_config(config, media_of(splits["train"]))
    # Utterance metadata: for dialogue contexts (all splits), the bilstm vocabulary (train).
    rows = {name: None for name in SPLITS}
    for name in SPLITS if config.context > 0 else ("train",):
        if config.context > 0 or config.model.text_encoder == "bilstm":
            rows[name] = split_metadata(splits[name])
    if config.model.text_encoder == "bilstm":
        preprocessor.adapt([text for _, _, _, text in rows["train"]])
    cache = config.cache
    prepared = {
        name: preprocessor.preprocess(
            splits[name], name, rows[name], cache=f"{cache}-{name}" if cache else ""
        )
        for name in SPLITS
    }
    counts = emotion_counts(prepared["train"])
    if config.class_weights == "balanced":
        preprocessor.class_weights = balanced_class_weights(counts).tolist()
    info = {
        "config": config,
        "dataset": config.dataset,
        "reason": reason,
        "preprocessor": preprocessor,
        "num_examples": {name: len(prepared[name]) for name in SPLITS},
        "emotion_counts": dict(zip(EMOTIONS, counts.tolist())),
        "epoch": tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch"),
    }
    if verbose:
        print(f"Examples: {info['num_examples']}.", flush=True)
    train = preprocessor.batches(prepared["train"], training=True, epoch=info["epoch"])
    validation = preprocessor.batches(prepared["validation"])
    test = preprocessor.batches(prepared["test"])
    return train, validation, test, info


# Model.


def build_model(config):
    """The classifier of ``config`` (the one place models are built)."""
    policy = distribute.precision_policy(tf.distribute.get_strategy(), config.precision)
    keras.mixed_precision.set_global_policy(policy)
    return build_classifier(config.model)


def compile_model(model, config):
    """Compiles ``model`` with AdamW (a learning rate per part, `meld_tf.optimizer`),
    label-smoothed cross-entropy and the head metrics."""
    optimizer = make_optimizer(model, config)
    losses = {
        head: keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        for head in HEADS
    }
    model.compile(
        optimizer=optimizer,
        loss=losses,
        loss_weights=dict(zip(HEADS, config.loss_weights)),
        metrics={head: head_metrics(len(classes)) for head, classes in HEADS.items()},
    )
    return model


# Evaluation.


def predict_split(model, batches):
    """``(labels, probabilities)`` per head over a batched split, in order."""
    labels = {head: [] for head in HEADS}
    probabilities = {head: [] for head in HEADS}
    for batch in batches:
        inputs, targets = batch[0], batch[1]
        outputs = model.predict_on_batch(inputs)
        for head in HEADS:
            labels[head].append(np.argmax(targets[head], axis=-1))
            probabilities[head].append(np.asarray(outputs[head], np.float64))
    return (
        {head: np.concatenate(values) for head, values in labels.items()},
        {head: np.concatenate(values) for head, values in probabilities.items()},
    )


def evaluate_split(model, batches):
    """Exact metrics per head (``classification_metrics``) of ``model`` on a split."""
    labels, probabilities = predict_split(model, batches)
    return {
        head: classification_metrics(labels[head], probabilities[head], classes)
        for head, classes in HEADS.items()
    }


def format_scores(metrics, title):
    """One line per head: accuracy, weighted F1, macro F1 (in %)."""
    lines = [title]
    for head in HEADS:
        m = metrics[head]
        lines.append(
            f"  {head:<9} accuracy {100 * m['accuracy']:5.1f}  "
            f"weighted F1 {100 * m['weighted_f1']:5.1f}  macro F1 {100 * m['macro_f1']:5.1f}"
        )
    return "\n".join(lines)


# Runs.


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
        config: the same, resolved by `resolve_data`.
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


def load_run(run_dir):
    """``(config, model, preprocessor, recorded metrics)`` of a finished run folder."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    model_path = os.path.join(run_dir, MODEL_FILE)
    for path in (config_path, model_path):
        if not os.path.isfile(path):
            raise RunError(
                f"{run_dir} is not a finished run folder: {os.path.basename(path)} is missing "
                "(train one with python -m meld_tf.train)."
            )
    config = TrainConfig.load(config_path)
    model = keras.models.load_model(model_path)
    preprocessor = MeldPreprocessor.load(os.path.join(run_dir, PREPROCESSOR_DIR), config)
    recorded = {}
    if os.path.isfile(os.path.join(run_dir, METRICS_FILE)):
        with open(os.path.join(run_dir, METRICS_FILE), encoding="utf-8") as file:
            recorded = json.load(file)
    return config, model, preprocessor, recorded


def write_results(run_dir, model, config, info, validation, test, history):
    """Saves the model, the metrics, the report and the plots of a finished run."""
    model.save(os.path.join(run_dir, MODEL_FILE))
    sign = 1 if MONITORS[config.monitor] == "min" else -1
    best_epoch = min(range(len(history)), key=lambda i: sign * float(history[i][config.monitor]))
    results = {
        "dataset": info["dataset"],
        "dataset_version": config.dataset_version,
        "num_examples": info["num_examples"],
        "epochs_run": len(history),
        "best_epoch": best_epoch + 1,
        "selection": f"best epoch by {config.monitor}; test scored once, after training",
        "validation": validation,
        "test": test,
    }
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


def train(config, callbacks=None, verbose=True):
    """Runs (or resumes) a whole training run and returns its run folder.

    Args:
        config: a ``TrainConfig``.
        callbacks: extra Keras callbacks, after the run's own.
        verbose: print the dataset choice, Keras progress (a bar on a terminal, else one
            line per epoch) and the final scores.
    """
    strategy = distribute.make_strategy(config.strategy)
    config = config.replace(precision=distribute.resolve_precision(config.precision, strategy))
    if config.bucket_by_length and strategy.num_replicas_in_sync > 1:
        # Replicas split a batch after its padding is trimmed, and the all-reduce of
        # their gradients needs equal shapes: fixed-length batches (recorded so).
        config = config.replace(bucket_by_length=False)
        if verbose:
            print("Length buckets are off with several replicas (fixed-length batches).")
    if config.data_dir:
        config = config.replace(data_dir=os.path.abspath(os.path.expanduser(config.data_dir)))
    chief_dir, resuming = resolve_run_dir(config, resolve_data(config)[0])
    keras.utils.set_random_seed(config.seed)
    train_data, validation_data, test_data, info = make_datasets(config, verbose)
    config = info["config"]  # What config.json records: the data spelt out.
    whole_train_data = train_data  # Every worker's input statistics come from all of it.
    train_data, validation_data = (
        distribute.shard_by_data(data, strategy) for data in (train_data, validation_data)
    )
    # Under multi_worker only the chief writes chief_dir; the others write a temp folder.
    run_dir = distribute.worker_dir(chief_dir, strategy, copy=(BACKUP_DIR, HISTORY_FILE))
    os.makedirs(run_dir, exist_ok=True)
    if not resuming:  # Leftovers of a run that never saved an epoch would mislead.
        for name in (HISTORY_FILE, BEST_WEIGHTS_FILE):
            if os.path.isfile(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
    config.save(os.path.join(run_dir, CONFIG_FILE))
    info["preprocessor"].save(os.path.join(run_dir, PREPROCESSOR_DIR))
    if verbose:
        print(f"Run folder: {run_dir}" + (" (resuming)" if resuming else ""), flush=True)

    with strategy.scope():  # Variables on every replica; batches split across them.
        model = compile_model(build_model(config), config)
        adapt_audio_normalization(model, whole_train_data)
        distribute.prepare_for_fit(model, strategy)
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=config.epochs,
        shuffle=False,  # The training dataset shuffles itself, by (seed, epoch).
        callbacks=make_callbacks(config, run_dir, info["epoch"], whole_train_data)
        + list(callbacks or []),
        verbose=(1 if sys.stdout.isatty() else 2) if verbose else 0,
    )
    best_weights = os.path.join(run_dir, BEST_WEIGHTS_FILE)
    if os.path.isfile(best_weights):  # Absent only if no epoch had a finite monitor.
        model.load_weights(best_weights)
        os.remove(best_weights)  # model.keras holds them.
    model = distribute.local_copy(model, strategy)  # Evaluated and saved on one device.

    validation = evaluate_split(model, validation_data)
    test = evaluate_split(model, test_data)  # Once, at the end; never used for selection.
    write_results(run_dir, model, config, info, validation, test, read_history(run_dir))
    if verbose:
        print(format_scores(validation, "Validation (best epoch):"))
        print(format_scores(test, "Test:"))
        print(f"Saved to {chief_dir}")
    distribute.cleanup_worker_dir(run_dir, chief_dir)
    return chief_dir
