"""A learned attention bias per head and bucket of relative distance (T5, MPNet)."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="meld_tf")
class RelativePositionBias(keras.layers.Layer):
    """The bias that MPNet adds to every layer's attention scores, from token distances.

    The distance ``key position - query position`` falls in one of ``num_buckets``
    buckets: half for keys before the query, half for keys after it (``bidirectional``).
    Within a half, the first ``num_buckets // 4`` distances get a bucket each, larger ones
    share buckets whose width grows logarithmically up to ``max_distance``, and every
    distance beyond that shares the last bucket. Each bucket holds one learned value per
    attention head. The buckets are those of T5 (Raffel et al., 2020) as MPNet (Song et
    al., 2020) uses them: computed in float32 and truncated, as transformers does.

    Args:
        num_heads: attention heads (one bias each).
        num_buckets: buckets of relative distance.
        max_distance: distances from this one on share the last bucket.
        bidirectional: whether keys before and after the query get separate buckets.
        embeddings_initializer: initializer of the ``(num_buckets, num_heads)`` table.
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        inputs: any tensor ``(batch, length, ...)``; only its length is read.

    Returns:
        The bias ``(1, num_heads, length, length)``, query positions on axis 2, key
        positions on axis 3 (it broadcasts over the batch).

    Example:
    >>> layer = RelativePositionBias(num_heads=2)
    >>> tuple(layer(keras.ops.zeros((3, 5, 8))).shape)
    (1, 2, 5, 5)
    """

    def __init__(
        self,
        num_heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        embeddings_initializer="truncated_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.num_buckets, self.num_heads),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        self.built = True

    def buckets(self, relative_position):
        """The bucket (int32) of each ``key position - query position``."""
        num_buckets = self.num_buckets
        distance = -ops.cast(relative_position, "int32")  # > 0: the key is before the query.
        bucket = ops.zeros_like(distance)
        if self.bidirectional:
            num_buckets //= 2
            bucket = ops.cast(distance < 0, "int32") * num_buckets
            distance = ops.abs(distance)
        else:
            distance = ops.maximum(distance, 0)
        max_exact = num_buckets // 2
        # log(0) is never used (max_exact > 0), but must not make a NaN.
        ratio = ops.cast(ops.maximum(distance, 1), "float32") / max_exact
        scale = math.log(self.max_distance / max_exact)
        log_bucket = ops.log(ratio) / scale * (num_buckets - max_exact)
        large = ops.minimum(max_exact + ops.cast(log_bucket, "int32"), num_buckets - 1)
        return bucket + ops.where(distance < max_exact, distance, large)

    def call(self, inputs):
        positions = ops.arange(ops.shape(inputs)[1], dtype="int32")
        buckets = self.buckets(positions[None, :] - positions[:, None])
        bias = ops.take(self.embeddings, buckets, axis=0)  # (query, key, heads)
        return ops.expand_dims(ops.transpose(bias, (2, 0, 1)), 0)

    def compute_output_shape(self, input_shape):
        return (1, self.num_heads, input_shape[1], input_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self.num_heads,
            "num_buckets": self.num_buckets,
            "max_distance": self.max_distance,
            "bidirectional": self.bidirectional,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        })  # fmt: skip
        return config
