"""One MPNet transformer layer: BERT's post-norm layer with an additive attention bias."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class MPNetEncoderLayer(keras.layers.Layer):
    """Self-attention and a feed-forward block, each followed by a residual and a
    LayerNormalization (post-norm, as BERT), with a bias added to the attention scores.

    ``scores = q k^T / sqrt(head_dim) + position_bias``, then the padding keys are masked
    out and the scores go through a softmax. MPNet computes ``position_bias`` once
    (`RelativePositionBias`) and gives the same to every layer.

    Args:
        num_heads: attention heads; they must divide the hidden size.
        intermediate_dim: units of the feed-forward block.
        dropout: dropout rate of the attention probabilities and of both residual
            branches.
        activation: activation of the feed-forward block (MPNet: exact ``"gelu"``).
        layer_norm_epsilon: epsilon of both LayerNormalizations.
        kernel_initializer: initializer of the kernels of the dense layers.
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        inputs: ``(batch, length, hidden)``.
        position_bias: ``(1 or batch, num_heads, length, length)``, added to the scores.
        padding_mask: optional ``(batch, length)``, true (or 1) for tokens.
        training: whether dropout is on.

    Returns:
        ``(batch, length, hidden)``.

    Example:
    >>> layer = MPNetEncoderLayer(num_heads=2, intermediate_dim=8)
    >>> x = keras.ops.ones((1, 3, 4))
    >>> tuple(layer(x, position_bias=keras.ops.zeros((1, 2, 3, 3))).shape)
    (1, 3, 4)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"MPNetEncoderLayer: num_heads={self.num_heads} does not divide the hidden "
                f"size {hidden_dim}."
            )
        self.head_dim = hidden_dim // self.num_heads

        def dense(units, input_dim, name, activation=None):
            layer = keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            layer.build((None, None, input_dim))
            return layer

        self.query_dense = dense(hidden_dim, hidden_dim, "query")
        self.key_dense = dense(hidden_dim, hidden_dim, "key")
        self.value_dense = dense(hidden_dim, hidden_dim, "value")
        self.attention_output_dense = dense(hidden_dim, hidden_dim, "attention_output")
        self.intermediate_dense = dense(
            self.intermediate_dim, hidden_dim, "intermediate", self.activation
        )
        self.output_dense = dense(hidden_dim, self.intermediate_dim, "output")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_layer_norm"
        )
        self.attention_layer_norm.build(input_shape)
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="output_layer_norm"
        )
        self.output_layer_norm.build(input_shape)
        self.softmax = keras.layers.Softmax(axis=-1, dtype=self.dtype_policy, name="softmax")
        self.attention_dropout = keras.layers.Dropout(self.dropout, name="attention_dropout")
        self.attention_output_dropout = keras.layers.Dropout(
            self.dropout, name="attention_output_dropout"
        )
        self.output_dropout = keras.layers.Dropout(self.dropout, name="output_dropout")
        self.built = True

    def _heads(self, x):
        """``(batch, length, hidden)`` -> ``(batch, heads, length, head_dim)``."""
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, inputs, position_bias, padding_mask=None, training=None):
        query = self._heads(self.query_dense(inputs))
        key = self._heads(self.key_dense(inputs))
        value = self._heads(self.value_dense(inputs))
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = scores / ops.cast(math.sqrt(self.head_dim), scores.dtype)
        scores = scores + ops.cast(position_bias, scores.dtype)
        mask = None
        if padding_mask is not None:
            mask = ops.cast(padding_mask, "bool")[:, None, None, :]  # Masks the keys.
        probabilities = self.softmax(scores, mask=mask)
        probabilities = self.attention_dropout(probabilities, training=training)
        context = ops.transpose(ops.matmul(probabilities, value), (0, 2, 1, 3))
        shape = ops.shape(inputs)
        context = ops.reshape(context, (shape[0], shape[1], self.num_heads * self.head_dim))
        attention = self.attention_output_dense(context)
        attention = self.attention_output_dropout(attention, training=training)
        x = self.attention_layer_norm(inputs + attention)
        feed_forward = self.output_dense(self.intermediate_dense(x))
        feed_forward = self.output_dropout(feed_forward, training=training)
        return self.output_layer_norm(x + feed_forward)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })  # fmt: skip
        return config
