"""Pools a sequence of token vectors into one vector."""

import keras
from keras import ops

POOLINGS = ("mean", "cls")


@keras.saving.register_keras_serializable(package="meld_tf")
class TokenPooling(keras.layers.Layer):
    """Masked mean over real tokens (``"mean"``) or the first token (``"cls"``).

    Args:
        mode: ``"mean"`` or ``"cls"``.
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: a list ``[sequence, padding_mask]``: ``(B, L, H)`` and ``(B, L)``
            (True or 1 on real tokens).

    Example:
    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> TokenPooling("mean")([x, np.array([[1, 1, 0]])]).numpy().tolist()
    [[2.0]]
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"Unknown pooling {mode!r}; valid choices: {POOLINGS}.")
        self.mode = mode

    def call(self, inputs):
        sequence, padding_mask = inputs
        if self.mode == "cls":
            return sequence[:, 0, :]
        mask = ops.cast(padding_mask, sequence.dtype)[:, :, None]
        total = ops.sum(sequence * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
