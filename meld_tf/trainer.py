"""Training as a library: the reusable pieces of a run, and ``train(config)``.

The CLI ``meld_tf.train``, the hyperparameter tuner and distributed training all call
these pieces; there is no other training loop.

* ``resolve_data(config)`` (`meld_tf.run_data`): the config with its data spelt out
  (dataset, version, folder), as ``config.json`` records it.
* ``make_datasets(config)`` -> ``(train, validation, test, info)`` batched datasets.
* ``build_model(config)``: the one place a model is made, a `meld_tf.task.MeldClassifier`
  (call it inside a ``tf.distribute`` strategy scope to distribute it); its
  ``compile()`` supplies the run's optimizer, losses, loss weights and metrics.
* ``make_callbacks(config, run_dir, epoch)`` (`meld_tf.callbacks`): the training order
  of each epoch, best weights, early stopping, learning-rate reduction, TensorBoard and
  CSV logs, and an exact resume.
* ``train(config)`` -> run folder with ``config.json``, ``model.keras``,
  ``metrics.json``, a classification report and plots.

The run folder's files and life are `meld_tf.run_folder`'s; scoring a split is
`meld_tf.scoring`'s.
"""

import os
import sys

import keras
import numpy as np
import tensorflow as tf

from meld_tf import calibration, distribute, run_folder
from meld_tf.batching import balanced_class_weights, batches
from meld_tf.callbacks import make_callbacks
from meld_tf.labels import EMOTIONS, SPLITS
from meld_tf.models.audio_encoder import adapt_audio_normalization
from meld_tf.preprocessing import MeldPreprocessor, media_of, split_metadata
from meld_tf.run_data import describe_data, load_splits, resolve_data
from meld_tf.run_folder import BACKUP_DIR, HISTORY_FILE
from meld_tf.scoring import format_scores, predict_split, split_metrics
from meld_tf.task import MeldClassifier

# Data.


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
    for name in SPLITS if config.dialogue_context else ("train",):
        if config.dialogue_context or config.model.text_encoder == "bilstm":
            rows[name] = split_metadata(splits[name])
    if config.model.text_encoder == "bilstm":  # The utterances as the encoder reads them.
        template = config.text_template
        preprocessor.adapt([template.format(text=text, speaker=speaker)
                            for _, _, speaker, text in rows["train"]])  # fmt: skip
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
    train = batches(prepared["train"], config, preprocessor.class_weights, training=True,
                    epoch=info["epoch"])  # fmt: skip
    validation = batches(prepared["validation"], config)
    test = batches(prepared["test"], config)
    return train, validation, test, info


# Model.


def build_model(config, preprocessor=None):
    """The classifier of ``config`` (the one place models are built), uncompiled, in the
    dtype policy of ``config.precision``; the global policy is left as it was."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(
        distribute.precision_policy(tf.distribute.get_strategy(), config.precision))
    try:
        return MeldClassifier.for_config(config, preprocessor)
    finally:
        keras.mixed_precision.set_global_policy(previous)


# The run.


def run_config(config, strategy, verbose=True):
    """``config`` as it trains under ``strategy``: its precision made concrete, fixed-length
    batches with several replicas, and an absolute ``data_dir``."""
    config = config.replace(precision=distribute.resolve_precision(config.precision, strategy))
    if config.bucket_by_length and strategy.num_replicas_in_sync > 1:
        # Replicas split a batch after its padding is trimmed, and the all-reduce of
        # their gradients needs equal shapes: fixed-length batches (recorded so).
        config = config.replace(bucket_by_length=False)
        if verbose:
            print("Length buckets are off with several replicas (fixed-length batches).")
    if config.data_dir:
        config = config.replace(data_dir=os.path.abspath(os.path.expanduser(config.data_dir)))
    return config


def adjust_emotion_logits(model, validation_data, info, config):
    """With ``config.model.logit_adjustment``: chooses ``tau`` on dev for that score and
    sets the model's `PriorAdjustment` to ``-tau * log(train prior)``
    (`meld_tf.calibration`); returns what ``metrics.json`` records of it (None without).
    The dev scores recorded after it are of a choice made on dev; the record holds the
    unadjusted and a cross-fitted dev score beside it."""
    score = config.model.logit_adjustment
    if score == "none":
        return None
    labels, probabilities = predict_split(model, validation_data)  # The bias is still 0.
    labels, probabilities = labels["emotion"], probabilities["emotion"]
    counts = [info["emotion_counts"][emotion] for emotion in EMOTIONS]
    tau, _ = calibration.choose_tau(labels, probabilities, counts, score)
    folds, fold_taus = calibration.cross_fitted(labels, probabilities, counts, score)
    model.get_layer("emotion").set_bias(calibration.prior_bias(counts, tau))
    classes = len(EMOTIONS)
    return {
        "score": score,
        "tau": tau,
        "fold_taus": fold_taus,
        "validation_unadjusted": calibration.score(
            labels, probabilities.argmax(-1), classes, score),
        "validation_cross_fitted": calibration.score(labels, folds, classes, score),
    }  # fmt: skip


def train(config, callbacks=None, verbose=True):
    """Runs (or resumes) a whole training run and returns its run folder.

    Args:
        config: a ``TrainConfig``.
        callbacks: extra Keras callbacks, after the run's own.
        verbose: print the dataset choice, Keras progress (a bar on a terminal, else one
            line per epoch) and the final scores.
    """
    strategy = distribute.make_strategy(config.strategy)
    config = run_config(config, strategy, verbose)
    chief_dir, resuming = run_folder.resolve_run_dir(config, resolve_data(config)[0])
    keras.utils.set_random_seed(config.seed)
    train_data, validation_data, test_data, info = make_datasets(config, verbose)
    config = info["config"]  # What config.json records: the data spelt out.
    whole_train_data = train_data  # Every worker's input statistics come from all of it.
    train_data, validation_data = (
        distribute.shard_by_data(data, strategy) for data in (train_data, validation_data)
    )
    # Under multi_worker only the chief writes chief_dir; the others write a temp folder.
    run_dir = distribute.worker_dir(chief_dir, strategy, copy=(BACKUP_DIR, HISTORY_FILE))
    run_folder.start_run(run_dir, config, info["preprocessor"], resuming)
    if verbose:
        print(f"Run folder: {run_dir}" + (" (resuming)" if resuming else ""), flush=True)

    with strategy.scope():  # Variables on every replica; batches split across them.
        model = build_model(config, info["preprocessor"])
        model.compile()  # The run's optimizer, losses and metrics (MeldClassifier.compile).
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
    model = run_folder.restore_best_weights(model, run_dir)
    model = distribute.local_copy(model, strategy)  # Evaluated and saved on one device.
    adjustment = adjust_emotion_logits(model, validation_data, info, config)

    predictions = {"validation": predict_split(model, validation_data),
                   "test": predict_split(model, test_data)}  # Once; never for selection.
    validation, test = (split_metrics(*predictions[split]) for split in ("validation", "test"))
    history = run_folder.read_history(run_dir)
    run_folder.write_results(run_dir, model, config, info, validation, test, history,
                             adjustment)  # fmt: skip
    run_folder.write_predictions(run_dir, predictions)
    if verbose:
        if adjustment:
            print(f"Logit adjustment: tau {adjustment['tau']:.1f}, chosen on dev for "
                  f"{adjustment['score']} (dev {100 * adjustment['validation_unadjusted']:.1f}"
                  f" unadjusted, {100 * adjustment['validation_cross_fitted']:.1f} "
                  "cross-fitted).")  # fmt: skip
        print(format_scores(validation, "Validation (best epoch):"))
        print(format_scores(test, "Test:"))
        print(f"Saved to {chief_dir}")
    distribute.cleanup_worker_dir(run_dir, chief_dir)
    return chief_dir
