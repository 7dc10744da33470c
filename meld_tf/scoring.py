"""Scoring a model on a split: predictions, exact metrics, and a finished run reopened on
one split of its data.

* ``open_split(run_dir, split)``: a finished run (`meld_tf.task.MeldClassifier.from_run`) and the
  examples of one split of the data it trained on; the one path by which
  `meld_tf.evaluate` and `meld_tf.inspection` reopen a run.
* ``split_batches(config, preprocessor, examples, split)``: the split's model inputs,
  built exactly as in training.
* ``predict_split(model, batches)``, ``split_metrics(labels, probabilities)``,
  ``evaluate_split(model, batches)``: labels and probabilities per head, and their
  ``classification_metrics``.
* ``format_scores(metrics, title)``: accuracy, weighted F1 and macro F1 per head.
"""

import numpy as np

from meld_tf.batching import batches
from meld_tf.labels import HEADS, SPLITS
from meld_tf.metrics import classification_metrics
from meld_tf.preprocessing import split_metadata
from meld_tf.run_data import data_of_run, describe_data, load_splits
from meld_tf.run_folder import read_metrics
from meld_tf.task import MeldClassifier


def open_split(run_dir, split, data_dir=None, verbose=False):
    """A finished run and one split of its dataset.

    Args:
        run_dir: a run folder written by ``meld_tf.trainer.train``.
        split: one of `SPLITS`.
        data_dir: read the data from this folder instead of the run's.
        verbose: print the run, its data and the split.

    Returns:
        ``(config, model, preprocessor, recorded, examples)``: the run's config resolved to
        the data it trained on (`meld_tf.run_data.data_of_run`), its model, preprocessor
        and ``metrics.json``, and the split's dataset examples.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
    model = MeldClassifier.from_run(run_dir)
    config, preprocessor, recorded = model.config, model.preprocessor, read_metrics(run_dir)
    config = data_of_run(config, recorded, data_dir)  # The run's data, or an error.
    if verbose:
        print(f"Run {run_dir}: {describe_data(config)}, split {split}.", flush=True)
    return config, model, preprocessor, recorded, load_splits(config)[split]


def split_batches(config, preprocessor, examples, split, rows=None):
    """The batched ``(inputs, labels)`` of ``examples``, made as in training.

    ``rows``: the split's ``split_metadata`` if already read; a run with dialogue context
    needs them (read here when not given), a run without ignores them.
    """
    if config.dialogue_context:
        rows = split_metadata(examples) if rows is None else rows
    else:
        rows = None
    return batches(preprocessor.preprocess(examples, split, rows), config)


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


def split_metrics(labels, probabilities):
    """Exact metrics per head (``classification_metrics``) of ``predict_split``'s output."""
    return {
        head: classification_metrics(labels[head], probabilities[head], classes)
        for head, classes in HEADS.items()
    }


def evaluate_split(model, batches):
    """Exact metrics per head (``classification_metrics``) of ``model`` on a split."""
    return split_metrics(*predict_split(model, batches))


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
