"""Logit adjustment by the class prior, chosen on dev (meld_tf.calibration)."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

from meld_tf import calibration

COUNTS = np.array([80, 15, 5])  # a skewed training prior


def skewed_dev(n=400, seed=0):
    """Labels and probabilities of a model that under-predicts the rare classes: for a
    true rare class its probability is high, but below the majority class's."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    probabilities = np.full((n, 3), 0.05)
    probabilities[:, 0] = 0.6
    rare = labels > 0
    probabilities[rare, labels[rare]] = 0.35 + 0.1 * rng.random(rare.sum())
    return labels, probabilities / probabilities.sum(-1, keepdims=True)


def test_tau_zero_is_the_models_own_arg_max():
    _, probabilities = skewed_dev()
    predictions = calibration.adjusted_predictions(probabilities, calibration.prior_bias(COUNTS, 0))
    np.testing.assert_array_equal(predictions, probabilities.argmax(-1))


def test_prior_bias_divides_out_the_prior():
    bias = calibration.prior_bias(COUNTS, 1.0)
    np.testing.assert_allclose(np.exp(-bias), COUNTS / COUNTS.sum())
    assert np.isfinite(calibration.prior_bias([10, 0, 5], 1.0)).all()  # no example: finite


@pytest.mark.parametrize("name", ["weighted_f1", "macro_f1"])
def test_scores_agree_with_scikit_learn(name):
    rng = np.random.default_rng(1)
    labels, predictions = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    expected = f1_score(labels, predictions, average=name.removesuffix("_f1"), labels=range(3),
                        zero_division=0)  # fmt: skip
    assert calibration.score(labels, predictions, 3, name) == pytest.approx(expected)


def test_choose_tau_raises_macro_f1_on_a_skewed_model():
    labels, probabilities = skewed_dev()
    plain = calibration.score(labels, probabilities.argmax(-1), 3, "macro_f1")
    tau, best = calibration.choose_tau(labels, probabilities, COUNTS)
    assert tau > 0 and best > plain + 0.2  # the rare classes are predicted again
    chosen = calibration.adjusted_predictions(probabilities, calibration.prior_bias(COUNTS, tau))
    assert best == pytest.approx(f1_score(labels, chosen, average="macro"))


def test_cross_fitted_scores_each_half_with_the_other_halfs_tau():
    labels, probabilities = skewed_dev()
    predictions, taus = calibration.cross_fitted(labels, probabilities, COUNTS)
    assert len(taus) == 2 and all(t > 0 for t in taus)
    order = np.random.default_rng(0).permutation(len(labels))
    first, second = order[:200], order[200:]
    tau_second, _ = calibration.choose_tau(labels[second], probabilities[second], COUNTS)
    expected = calibration.adjusted_predictions(
        probabilities[first], calibration.prior_bias(COUNTS, tau_second))
    np.testing.assert_array_equal(predictions[first], expected)


def test_unknown_score_is_refused():
    with pytest.raises(ValueError, match="Unknown score"):
        calibration.score([0], [0], 3, "recall")
