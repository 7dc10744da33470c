import numpy as np
from helpers import run_layer_test

from meld_tf.models import LateFusion


def test_layer_averages_present_modalities():
    logits = [np.full((3, 2), 1.0, "float32"), np.full((3, 2), 5.0, "float32")]
    mask = np.array([[1, 1], [1, 0], [0, 0]], "float32")
    output = run_layer_test(
        LateFusion, {}, [logits, mask], expected_output_shape=(3, 2), expect_trainable=False
    )
    np.testing.assert_array_equal(np.asarray(output), [[3, 3], [1, 1], [0, 0]])
