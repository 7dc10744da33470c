"""Attention fusion: a learned, masked softmax over the modality latents."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class AttentionFusion(keras.layers.Layer):
    """Fuses M modality latents by a masked softmax attention over modalities.

    Each latent ``h_m`` gets a score ``v . tanh(W h_m + b)``; the weights are a softmax
    of the scores over the modalities that are present (mask 1). Absent modalities get
    weight exactly 0 and their latent is zeroed first, so their values cannot leak. If
    every modality of an example is absent, the fused vector and the weights are zeros.

    Args:
        units: size of the hidden layer of the scorer.
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: a list ``[latents, mask]``: ``latents`` a list of M tensors ``(B, D)``,
            ``mask`` a ``(B, M)`` float tensor, 1.0 present, 0.0 absent.

    Returns:
        ``(fused, weights)``: ``(B, D)`` and ``(B, M)``, the weights in float32.

    Example:
    >>> import numpy as np
    >>> fusion = AttentionFusion(units=4)
    >>> fused, weights = fusion([[np.ones((2, 3)), np.zeros((2, 3))], np.ones((2, 2))])
    >>> tuple(fused.shape), tuple(weights.shape)
    ((2, 3), (2, 2))
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        latent_shape = input_shape[0][0]
        dim = latent_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(dim, self.units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer="glorot_uniform"
        )

    def call(self, inputs):
        latents, mask = inputs
        mask = ops.cast(mask, self.compute_dtype)
        stacked = ops.stack(latents, axis=1) * mask[:, :, None]  # (B, M, D)
        hidden = ops.tanh(ops.matmul(stacked, self.kernel) + self.bias)
        # The weights in float32 under every policy (a bfloat16 softmax sums to 1 +- 0.4%).
        scores = ops.cast(ops.sum(hidden * self.score_vector, axis=-1), "float32")  # (B, M)
        # Masked softmax, with no constant that overflows or rounds to 0 in float16: shift
        # by the max over present modalities (the row's min stands in for absent ones), zero
        # the absent ones, and divide an all-absent row by 1 instead of by its zero total.
        present = mask > 0
        floor = ops.min(scores, axis=1, keepdims=True)
        shift = ops.max(ops.where(present, scores, floor), axis=1, keepdims=True)
        exp = ops.where(present, ops.exp(scores - shift), ops.zeros_like(scores))
        total = ops.sum(exp, axis=1, keepdims=True)
        weights = exp / ops.where(total > 0, total, ops.ones_like(total))
        fused = ops.sum(stacked * ops.cast(weights, stacked.dtype)[:, :, None], axis=1)
        return fused, weights

    def compute_output_shape(self, input_shape):
        latent_shape = input_shape[0][0]
        batch, num = latent_shape[0], len(input_shape[0])
        return (batch, latent_shape[-1]), (batch, num)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config
