"""Metrics: hand-computed F1 on a small confusion matrix; Keras metric == numpy recompute."""

import numpy as np
import pytest

from meld_tf.metrics import (
    Accuracy,
    F1Score,
    classification_metrics,
    classification_report,
    confusion_matrix,
)

# Confusion (rows true, columns predicted): [[2, 1, 0], [0, 1, 1], [0, 0, 1]].
LABELS = np.array([0, 0, 0, 1, 1, 2])
PREDICTIONS = np.array([0, 0, 1, 1, 2, 2])
# Per class F1: 0.8 (P 1, R 2/3), 0.5 (P 1/2, R 1/2), 2/3 (P 1/2, R 1).
MACRO_F1 = (0.8 + 0.5 + 2 / 3) / 3
WEIGHTED_F1 = (3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6


def test_confusion_matrix_by_hand():
    expected = [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert confusion_matrix(LABELS, PREDICTIONS, 3).tolist() == expected


def test_classification_metrics_by_hand():
    metrics = classification_metrics(LABELS, PREDICTIONS, ("a", "b", "c"))
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["macro_f1"] == pytest.approx(MACRO_F1)
    assert metrics["weighted_f1"] == pytest.approx(WEIGHTED_F1)
    assert metrics["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert metrics["per_class"]["c"]["precision"] == pytest.approx(0.5)
    assert metrics["num_examples"] == 6


def test_absent_class_counts_zero_in_macro_and_nothing_in_weighted():
    # A fourth class with no example and no prediction: F1 0, support 0.
    metrics = classification_metrics(LABELS, PREDICTIONS, ("a", "b", "c", "d"))
    assert metrics["macro_f1"] == pytest.approx(MACRO_F1 * 3 / 4)
    assert metrics["weighted_f1"] == pytest.approx(WEIGHTED_F1)
    assert metrics["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_probabilities_are_scored_by_arg_max():
    probabilities = np.full((6, 3), 0.1)
    probabilities[np.arange(6), PREDICTIONS] = 0.8
    from_probabilities = classification_metrics(LABELS, probabilities, ("a", "b", "c"))
    assert from_probabilities == classification_metrics(LABELS, PREDICTIONS, ("a", "b", "c"))


def test_agrees_with_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    metrics = classification_metrics(labels, predictions, tuple("abcdefg"))
    for average in ("weighted", "macro"):
        expected = sklearn_metrics.f1_score(labels, predictions, average=average, labels=range(7))
        assert metrics[f"{average}_f1"] == pytest.approx(expected)


@pytest.mark.parametrize("average", ["weighted", "macro"])
def test_keras_metric_equals_numpy_recompute_over_batches(average):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 100)
    probabilities = rng.random((100, 7)).astype("float32")
    one_hot = np.eye(7, dtype="float32")[labels]
    metric = F1Score(7, average)
    for start in range(0, 100, 32):  # Uneven batches, as in an epoch.
        batch = slice(start, start + 32)
        metric.update_state(one_hot[batch], probabilities[batch])
    expected = classification_metrics(labels, probabilities, tuple("abcdefg"))[f"{average}_f1"]
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_keras_metrics_ignore_sample_weights_and_smoothing():
    smoothed = np.eye(3, dtype="float32")[LABELS] * 0.9 + 0.1 / 3
    predicted = np.eye(3, dtype="float32")[PREDICTIONS]
    weights = np.array([5.0, 0.1, 1.0, 1.0, 2.0, 3.0], "float32")
    f1, accuracy = F1Score(3, "macro"), Accuracy()
    f1.update_state(smoothed, predicted, sample_weight=weights)
    accuracy.update_state(smoothed, predicted, sample_weight=weights)
    assert float(f1.result()) == pytest.approx(MACRO_F1, abs=1e-6)
    assert float(accuracy.result()) == pytest.approx(4 / 6)


def test_keras_metrics_compile_with_xla():
    # Training with jit_compile=True compiles the metrics' update_state too.
    import tensorflow as tf

    f1, accuracy = F1Score(3, "weighted"), Accuracy()
    labels, predicted = np.eye(3, dtype="float32")[LABELS], np.eye(3, dtype="float32")[PREDICTIONS]

    @tf.function(jit_compile=True)
    def update(y_true, y_pred):
        f1.update_state(y_true, y_pred)
        accuracy.update_state(y_true, y_pred)

    update(labels, predicted)
    assert float(f1.result()) == pytest.approx(WEIGHTED_F1, abs=1e-6)
    assert float(accuracy.result()) == pytest.approx(4 / 6)


def test_f1_metric_round_trips_its_config():
    metric = F1Score(7, "macro", name="emotion_macro")
    clone = F1Score.from_config(metric.get_config())
    assert (clone.num_classes, clone.average, clone.name) == (7, "macro", "emotion_macro")


def test_unknown_average_is_a_clear_error():
    with pytest.raises(ValueError, match="'micro'"):
        F1Score(3, "micro")


def test_report_lists_every_class_and_the_averages():
    metrics = classification_metrics(LABELS, PREDICTIONS, ("anger", "joy", "fear"))
    report = classification_report(metrics, ("anger", "joy", "fear"), title="emotion")
    assert report.splitlines()[0] == "emotion"
    assert "weighted avg" in report and f"{WEIGHTED_F1:.4f}" in report
    assert f"{MACRO_F1:.4f}" in report


def test_compiled_model_loads_after_import_meld_tf_alone(tmp_path):
    """A model compiled as a run compiles it (its optimizer, the head metrics) loads in a
    fresh process that has only done `import meld_tf`."""
    import subprocess
    import sys

    import keras

    from meld_tf.metrics import head_metrics
    from meld_tf.optimizer import PartwiseAdamW

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(inputs))
    model.compile(optimizer=PartwiseAdamW(1e-3, decoupled_weight_decay=0.01),
                  loss="categorical_crossentropy", metrics=head_metrics(7))
    model.fit(np.ones((8, 4)), np.eye(7)[np.arange(8) % 7], verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    code = f"import keras, meld_tf; keras.saving.load_model({str(path)!r}); print('loaded')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "loaded" in done.stdout, done.stderr[-2000:]
