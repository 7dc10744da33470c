"""Concatenation fusion: the modality latents, each times its mask, side by side."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class ConcatFusion(keras.layers.Layer):
    """Concatenates M latents after multiplying each by its modality mask.

    Call arguments:
        inputs: a list ``[latents, mask]``: ``latents`` a list of M tensors ``(B, D)``,
            ``mask`` a ``(B, M)`` float tensor, 1.0 present, 0.0 absent.

    Returns:
        ``(B, M * D)``: an absent modality contributes zeros.

    Example:
    >>> import numpy as np
    >>> fused = ConcatFusion()([[np.ones((2, 3)), np.ones((2, 3))], np.ones((2, 2))])
    >>> tuple(fused.shape)
    (2, 6)
    """

    def call(self, inputs):
        latents, mask = inputs
        mask = ops.cast(mask, self.compute_dtype)
        masked = [latent * mask[:, i : i + 1] for i, latent in enumerate(latents)]
        return ops.concatenate(masked, axis=-1)

    def compute_output_shape(self, input_shape):
        shapes = input_shape[0]
        return (shapes[0][0], sum(shape[-1] for shape in shapes))
