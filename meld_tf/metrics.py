"""Classification metrics: Keras metrics for training logs and an exact numpy recompute.

During training each head logs accuracy, weighted F1 (MELD's standard score) and macro F1,
named so that the logs read ``val_emotion_weighted_f1`` and ``val_emotion_macro_f1``.
After training, ``classification_metrics`` recomputes everything from the predictions
in float64: accuracy, weighted and macro F1, per-class precision, recall, F1 and
support, and the confusion matrix.

F1 conventions (as scikit-learn with ``zero_division=0``): a class with no prediction has
precision 0, a class with no example has recall 0; macro F1 averages over every class of
the head, weighted F1 weights each class by its support.
"""

import keras
import numpy as np
from keras import ops


def f1_from_confusion(confusion, average):
    """Weighted or macro F1 from a ``(C, C)`` confusion matrix (rows true, columns predicted).

    Works on numpy arrays and on Keras tensors alike.
    """
    true_positives = ops.diagonal(confusion)
    predicted = ops.sum(confusion, axis=0)
    support = ops.sum(confusion, axis=1)
    precision = ops.divide_no_nan(true_positives, predicted)
    recall = ops.divide_no_nan(true_positives, support)
    f1 = ops.divide_no_nan(2.0 * precision * recall, precision + recall)
    if average == "macro":
        return ops.mean(f1)
    if average == "weighted":
        return ops.divide_no_nan(ops.sum(f1 * support), ops.sum(support))
    raise ValueError(f"Unknown F1 average {average!r}; valid choices: 'weighted', 'macro'.")


@keras.saving.register_keras_serializable(package="meld_tf")
class F1Score(keras.metrics.Metric):
    """Weighted or macro F1 of a softmax head, accumulated over batches.

    Labels are one-hot (or smoothed: the arg max is the class); predictions are
    probabilities, scored by their arg max. The state is the confusion matrix.

    Args:
        num_classes: number of classes of the head.
        average: ``"weighted"`` (by support) or ``"macro"``.
        name: metric name; the log key is ``<output>_<name>`` for a named output.
        **kwargs: passed to ``keras.metrics.Metric``.

    Example:
    >>> import numpy as np
    >>> metric = F1Score(3, "macro")
    >>> metric.update_state(np.eye(3)[[0, 1, 2]], np.eye(3)[[0, 1, 1]])
    >>> round(float(metric.result()), 4)
    0.5556
    """

    def __init__(self, num_classes, average="weighted", name=None, **kwargs):
        if average not in ("weighted", "macro"):
            raise ValueError(f"Unknown F1 average {average!r}; valid choices: 'weighted', 'macro'.")
        super().__init__(name=name or f"{average}_f1", **kwargs)
        self.num_classes = num_classes
        self.average = average
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        # Metrics score every example once: sample weights (class balancing) are ignored.
        # One-hot products, not bincount: static shapes, so XLA (jit_compile) can compile it.
        true = ops.one_hot(ops.argmax(y_true, axis=-1), self.num_classes, dtype=self.dtype)
        pred = ops.one_hot(ops.argmax(y_pred, axis=-1), self.num_classes, dtype=self.dtype)
        self.confusion.assign_add(ops.matmul(ops.transpose(true), pred))

    def result(self):
        return f1_from_confusion(ops.convert_to_tensor(self.confusion), self.average)

    def reset_state(self):
        self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), self.dtype))

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "average": self.average})
        return config


@keras.saving.register_keras_serializable(package="meld_tf")
class Accuracy(keras.metrics.Metric):
    """Arg-max accuracy of a softmax head that ignores sample weights.

    ``keras.metrics.CategoricalAccuracy`` would weight examples by the class-balancing
    sample weights of the training set; this one counts each example once.

    Example:
    >>> import numpy as np
    >>> metric = Accuracy()
    >>> metric.update_state(np.eye(2)[[0, 1]], np.eye(2)[[0, 0]])
    >>> float(metric.result())
    0.5
    """

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))
        self.correct.assign_add(ops.sum(ops.cast(hits, self.dtype)))
        self.total.assign_add(ops.cast(ops.size(hits), self.dtype))

    def result(self):
        return ops.divide_no_nan(
            ops.convert_to_tensor(self.correct), ops.convert_to_tensor(self.total)
        )

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


def head_metrics(num_classes):
    """The Keras metrics of one head: accuracy, weighted F1, macro F1."""
    return [Accuracy(), F1Score(num_classes, "weighted"), F1Score(num_classes, "macro")]


def confusion_matrix(labels, predictions, num_classes):
    """``(C, C)`` int64 counts, rows the true class, columns the predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ.")
    index = labels * num_classes + predictions
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def classification_metrics(labels, probabilities, class_names):
    """Exact metrics of one head from integer labels and predicted probabilities.

    Args:
        labels: ``(N,)`` true class indices.
        probabilities: ``(N, C)`` predicted probabilities (or ``(N,)`` class indices).
        class_names: the ``C`` class names, in index order.

    Returns:
        A JSON-ready dict: ``accuracy``, ``weighted_f1``, ``macro_f1``, ``num_examples``,
        ``per_class`` (``{name: {precision, recall, f1, support}}``) and
        ``confusion_matrix`` (list of rows, rows true, columns predicted).
    """
    probabilities = np.asarray(probabilities)
    predictions = probabilities.argmax(axis=-1) if probabilities.ndim == 2 else probabilities
    num_classes = len(class_names)
    confusion = confusion_matrix(labels, predictions, num_classes).astype(np.float64)
    true_positives = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
    total = support.sum()
    return {
        "accuracy": float(true_positives.sum() / total) if total else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()),
        "num_examples": int(total),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion.astype(np.int64).tolist(),
    }


def classification_report(metrics, class_names, title=""):
    """A plain-text report of one head's ``classification_metrics``."""
    width = max(len(name) for name in [*class_names, "weighted avg"])
    lines = [title] if title else []
    lines.append(f"{'':>{width}}  precision  recall      f1  support")
    for name in class_names:
        row = metrics["per_class"][name]
        lines.append(
            f"{name:>{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
            f"{row['f1']:6.4f}  {row['support']:7d}"
        )
    total = metrics["num_examples"]
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':9}  {'':6}  {metrics['accuracy']:6.4f}  {total:7d}")
    lines.append(f"{'macro avg':>{width}}  {'':9}  {'':6}  {metrics['macro_f1']:6.4f}  {total:7d}")
    lines.append(
        f"{'weighted avg':>{width}}  {'':9}  {'':6}  {metrics['weighted_f1']:6.4f}  {total:7d}"
    )
    return "\n".join(lines)
