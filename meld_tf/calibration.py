"""Decision rules for a trained head, chosen on dev: logit adjustment by the class prior.

MELD's emotions are skewed (train: neutral 47 %, disgust and fear under 3 % each), and a
model trained on them rarely predicts a rare class: its arg max favours the prior. Logit
adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021) predicts

    argmax_c  log p(c | x) - tau * log prior(c)

``tau = 0`` is the model's own arg max; ``tau = 1`` divides out the training prior (the
rule of a balanced test set). ``tau`` is one number chosen on dev; nothing is refitted.

* ``prior_bias(counts, tau)``: the bias ``-tau log prior`` from the training counts.
* ``adjusted_predictions(probabilities, bias)``: the arg max of ``log p + bias``.
* ``score(labels, predictions, num_classes, name)``: accuracy, weighted or macro F1.
* ``choose_tau(labels, probabilities, counts, name)``: the ``tau`` of `TAUS` with the best
  score on the given (dev) examples.
* ``cross_fitted(labels, probabilities, counts, name)``: an honest dev estimate of the
  rule: each half of dev scored with the ``tau`` chosen on the other half.
"""

import numpy as np

from meld_tf.metrics import confusion_matrix, f1_from_confusion

TAUS = tuple(np.round(np.arange(0.0, 1.51, 0.1), 2))  # the values tried
SCORES = ("accuracy", "weighted_f1", "macro_f1")


def prior_bias(counts, tau):
    """``-tau * log prior`` per class from the training ``counts`` (a class with no
    example counts as one, so that its bias stays finite)."""
    counts = np.maximum(np.asarray(counts, np.float64), 1.0)
    return -tau * np.log(counts / counts.sum())


def adjusted_predictions(probabilities, bias):
    """Class indices: the arg max of ``log probabilities + bias`` per row."""
    logits = np.log(np.maximum(np.asarray(probabilities, np.float64), 1e-12))
    return np.argmax(logits + bias, axis=-1)


def score(labels, predictions, num_classes, name):
    """``name`` (one of `SCORES`) of integer ``predictions`` against integer ``labels``."""
    if name not in SCORES:
        raise ValueError(f"Unknown score {name!r}; choose one of {SCORES}.")
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if name == "accuracy":
        return float(np.mean(labels == predictions)) if len(labels) else 0.0
    confusion = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    return float(f1_from_confusion(confusion, name.removesuffix("_f1")))


def choose_tau(labels, probabilities, counts, name="macro_f1", taus=TAUS):
    """``(tau, score)``: the ``tau`` of ``taus`` with the best ``name`` on these examples
    (the smallest on a tie: the least change to the model's own decisions)."""
    num_classes = np.asarray(probabilities).shape[-1]
    best = None
    for tau in taus:
        predictions = adjusted_predictions(probabilities, prior_bias(counts, tau))
        value = score(labels, predictions, num_classes, name)
        if best is None or value > best[1]:
            best = (float(tau), value)
    return best


def cross_fitted(labels, probabilities, counts, name="macro_f1", seed=0):
    """Predictions for every example, each half's made with the ``tau`` chosen on the other
    half (a random split by ``seed``), and the two ``tau`` values: an estimate of the
    rule on unseen data that does not score a choice on the examples that made it."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities)
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    predictions = np.zeros(len(labels), np.int64)
    taus = []
    for fit, held_out in (halves, halves[::-1]):
        tau, _ = choose_tau(labels[fit], probabilities[fit], counts, name)
        predictions[held_out] = adjusted_predictions(
            probabilities[held_out], prior_bias(counts, tau)
        )
        taus.append(tau)
    return predictions, taus
