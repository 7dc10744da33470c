"""Late fusion: the mask-weighted mean of per-modality predictions."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class LateFusion(keras.layers.Layer):
    """Averages per-modality logits over the modalities that are present.

    Call arguments:
        inputs: a list ``[logits, mask]``: ``logits`` a list of M tensors ``(B, C)``
            (one head per modality), ``mask`` a ``(B, M)`` float tensor.

    Returns:
        ``(B, C)``: the mean of the present modalities' logits (zeros if none is present).

    Example:
    >>> import numpy as np
    >>> logits = [np.full((1, 2), 1.0), np.full((1, 2), 3.0)]
    >>> LateFusion()([logits, np.array([[1.0, 0.0]])]).numpy().tolist()
    [[1.0, 1.0]]
    """

    def call(self, inputs):
        logits, mask = inputs
        mask = ops.cast(mask, self.compute_dtype)
        stacked = ops.stack(logits, axis=1)  # (B, M, C)
        total = ops.sum(stacked * mask[:, :, None], axis=1)
        count = ops.sum(mask, axis=1, keepdims=True)
        return total / ops.maximum(count, 1.0)

    def compute_output_shape(self, input_shape):
        shapes = input_shape[0]
        return (shapes[0][0], shapes[0][-1])
