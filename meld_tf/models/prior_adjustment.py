"""Logit adjustment as a layer: class probabilities re-weighted by a fixed bias."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class PriorAdjustment(keras.layers.Layer):
    """``softmax(log p + bias)``: probabilities ``p`` with a fixed bias added to their logits.

    The bias is a non-trainable weight, zero when built (the layer passes ``p`` through),
    and set after training (``set_bias``) to ``-tau * log prior``: logit adjustment by the
    training prior (`meld_tf.calibration`), which makes rare classes predicted as often as
    dev says they should be. Being a weight, it is saved with the model, so evaluation,
    prediction and the exported serving function all apply it.

    Args:
        num_classes: classes of the head.
        **kwargs: ``keras.layers.Layer`` arguments; ``dtype`` is float32 (probabilities
            are computed in float32 under any mixed precision).

    Example:
    >>> import numpy as np
    >>> layer = PriorAdjustment(2)
    >>> layer.set_bias(np.log([1.0, 3.0]))
    >>> np.round(layer(np.array([[0.5, 0.5]])).numpy(), 2).tolist()
    [[0.25, 0.75]]
    """

    def __init__(self, num_classes, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        self.bias = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", trainable=False, name="bias"
        )

    def call(self, probabilities):
        probabilities = ops.cast(probabilities, "float32")
        logits = ops.log(ops.maximum(probabilities, 1e-12))
        return ops.softmax(logits + self.bias, axis=-1)

    def set_bias(self, bias):
        """Sets the ``(num_classes,)`` bias (builds the layer if needed)."""
        if not self.built:
            self.build((None, self.num_classes))
        self.bias.assign(ops.cast(ops.convert_to_tensor(bias), "float32"))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes})
        return config
