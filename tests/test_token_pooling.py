import numpy as np
import pytest
from helpers import run_layer_test

from meld_tf.models import TokenPooling

SEQUENCE = np.arange(12, dtype="float32").reshape(2, 3, 2)
PADDING = np.array([[True, True, False], [True, False, False]])


def test_mean_ignores_padding():
    output = run_layer_test(
        TokenPooling, {"mode": "mean"}, [SEQUENCE, PADDING], (2, 2), expect_trainable=False
    )
    np.testing.assert_allclose(np.asarray(output), [[1, 2], [6, 7]])


def test_cls_takes_first_token():
    output = run_layer_test(
        TokenPooling, {"mode": "cls"}, [SEQUENCE, PADDING], (2, 2), expect_trainable=False
    )
    np.testing.assert_allclose(np.asarray(output), [[0, 1], [6, 7]])


def test_unknown_mode():
    with pytest.raises(ValueError, match="'max'.*'mean'"):
        TokenPooling("max")
