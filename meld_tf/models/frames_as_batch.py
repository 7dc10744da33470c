"""Runs a per-frame model on every frame of a clip in one call, frames folded into the
batch."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class FramesAsBatch(keras.layers.Wrapper):
    """Applies ``layer`` to each frame: ``(B, T, ...)`` -> ``(B * T, ...)`` -> ``layer`` ->
    ``(B, T, ...)``.

    Unlike ``keras.layers.TimeDistributed``, which calls ``layer`` once per frame, the
    layer runs once on all ``B * T`` frames: a BatchNormalization inside computes one set
    of batch statistics (the set that `meld_tf.models.normalization.reestimate_batch_norm`
    averages), and the CPU gets one larger batch instead of ``T`` small ones.

    Args:
        layer: a layer (or functional model) taking one frame ``(B, ...)``.

    Example:
    >>> import numpy as np
    >>> wrapped = FramesAsBatch(keras.layers.Dense(3))
    >>> tuple(wrapped(np.zeros((2, 4, 5), "float32")).shape)
    (2, 4, 3)
    """

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        batch, frames = ops.shape(inputs)[0], ops.shape(inputs)[1]
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        outputs = self.layer(folded, training=training)
        return ops.reshape(outputs, (batch, frames, *outputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])
