"""Modality dropout: hide whole modalities at training time."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class ModalityDropout(keras.layers.Layer):
    """At training time, independently sets each present modality's mask to 0.

    Each present modality of an example is hidden with probability ``rate``. If that
    would hide every present modality of the example, the example keeps its mask
    unchanged, so a model always sees at least one modality. Identity at inference.

    Args:
        rate: probability of hiding each present modality, in ``[0, 1)``.
        seed: seed of the layer's ``keras.random.SeedGenerator`` (repeatable runs).
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: the ``(B, M)`` modality mask, float, 1.0 present, 0.0 absent.
        training: Python bool; the layer is the identity unless True.

    Example:
    >>> import numpy as np
    >>> layer = ModalityDropout(rate=0.5, seed=1)
    >>> out = layer(np.ones((4, 3), "float32"), training=True)
    >>> bool((out.numpy().sum(axis=1) >= 1).all())
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"ModalityDropout rate {rate} must be in [0, 1).")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        mask = ops.cast(inputs, self.compute_dtype)
        noise = keras.random.uniform(ops.shape(mask), seed=self.seed_generator)
        kept = mask * ops.cast(noise >= self.rate, self.compute_dtype)
        nothing_left = ops.sum(kept, axis=1, keepdims=True) == 0
        return ops.where(nothing_left, mask, kept)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
