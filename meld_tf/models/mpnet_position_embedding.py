"""Learned absolute positions counted over the tokens only, as RoBERTa and MPNet do."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class MPNetPositionEmbedding(keras.layers.Layer):
    """Position embeddings of RoBERTa and MPNet (fairseq's ``make_positions``).

    Tokens are numbered from ``padding_index + 1`` on, counting only the tokens of the
    padding mask; every padding position gets ``padding_index``. With padding on the
    right the tokens are at ``padding_index + 1, padding_index + 2, ...``; a sequence
    therefore holds at most ``num_positions - padding_index - 1`` tokens.

    Args:
        num_positions: rows of the table (514 for MPNet and RoBERTa base: 512 tokens).
        hidden_dim: size of each position's vector.
        padding_index: the position of padding (1 in MPNet).
        embeddings_initializer: initializer of the ``(num_positions, hidden_dim)`` table.
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        padding_mask: ``(batch, length)``, true (or 1) for tokens.

    Returns:
        ``(batch, length, hidden_dim)``.

    Example:
    >>> layer = MPNetPositionEmbedding(num_positions=10, hidden_dim=4)
    >>> layer.position_ids(keras.ops.array([[1, 1, 1, 0]])).numpy().tolist()
    [[2, 3, 4, 1]]
    """

    def __init__(
        self,
        num_positions,
        hidden_dim,
        padding_index=1,
        embeddings_initializer="truncated_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_positions = num_positions
        self.hidden_dim = hidden_dim
        self.padding_index = padding_index
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.num_positions, self.hidden_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        self.built = True

    def position_ids(self, padding_mask):
        """The position (int32) of each token of ``padding_mask``."""
        mask = ops.cast(padding_mask, "int32")
        return ops.cumsum(mask, axis=1) * mask + self.padding_index

    def call(self, padding_mask):
        return ops.take(self.embeddings, self.position_ids(padding_mask), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_positions": self.num_positions,
            "hidden_dim": self.hidden_dim,
            "padding_index": self.padding_index,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        })  # fmt: skip
        return config
