import numpy as np
import pytest
from helpers import run_layer_test

from meld_tf.models import ModalityDropout

MASK = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]] * 64, "float32")


def test_layer_is_identity_at_inference():
    output = run_layer_test(
        ModalityDropout, {"rate": 0.5, "seed": 3}, MASK, (256, 3), expect_trainable=False
    )
    np.testing.assert_array_equal(np.asarray(output), MASK)


def test_training_hides_some_but_never_all_present():
    output = np.asarray(ModalityDropout(rate=0.5, seed=3)(MASK, training=True))
    assert np.all(output <= MASK)  # an absent modality stays absent
    assert np.all(output.sum(axis=1) >= 1)  # never all hidden
    hidden = (MASK - output).sum() / MASK.sum()
    assert 0.15 < hidden < 0.5, hidden


def test_seed_makes_runs_repeatable():
    first = ModalityDropout(rate=0.5, seed=7)(MASK, training=True)
    second = ModalityDropout(rate=0.5, seed=7)(MASK, training=True)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_bad_rate():
    with pytest.raises(ValueError, match="1.5"):
        ModalityDropout(rate=1.5)
