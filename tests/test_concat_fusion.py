import numpy as np
from helpers import run_layer_test

from meld_tf.models import ConcatFusion


def test_layer_masks_each_latent():
    latents = [np.ones((2, 3), "float32"), np.full((2, 2), 2.0, "float32")]
    mask = np.array([[1, 1], [0, 1]], "float32")
    output = run_layer_test(
        ConcatFusion, {}, [latents, mask], expected_output_shape=(2, 5), expect_trainable=False
    )
    np.testing.assert_array_equal(np.asarray(output), [[1, 1, 1, 2, 2], [0, 0, 0, 2, 2]])
