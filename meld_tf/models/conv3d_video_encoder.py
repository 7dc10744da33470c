"""Video encoder: a small 3D CNN over (time, height, width)."""

import keras

from meld_tf.models.resnet18_video_encoder import video_inputs

CONV3D_STAGES = 3


def build_conv3d_video_encoder(config):
    """Returns a functional model: ``{"video_frames"}`` -> latent ``(B, latent_dim)``.

    Each clip is first standardised (zero mean, unit variance over all its pixels), so
    the low-contrast [0, 1] frames reach the first convolution at a useful scale. Then
    three blocks of Conv3D (3x3x3, ``video_width * (1, 2, 4)`` filters), group
    normalisation, ReLU and max pooling (space by 2, time by 2 after the first block),
    global average pooling and a Dense projection.

    Group normalisation (one group: per-clip statistics over time, space and channels,
    per-channel scale and offset) replaces batch normalisation: it has no running
    statistics, so training and inference compute the same function even after the few
    hundred small-batch steps of a small dataset, where batch-norm moving averages have
    not settled and validation collapses to one class.
    """
    # Layers.
    standardise = keras.layers.LayerNormalization(
        axis=(1, 2, 3, 4), center=False, scale=False, name="video_standardise"
    )
    blocks = []
    for i in range(CONV3D_STAGES):
        pool = (1, 2, 2) if i == 0 else (2, 2, 2)
        blocks += [
            keras.layers.Conv3D(
                config.video_width * 2**i, 3, padding="same", use_bias=False, name=f"video_conv{i}"
            ),
            keras.layers.GroupNormalization(groups=1, name=f"video_gn{i}"),
            keras.layers.ReLU(name=f"video_relu{i}"),
            keras.layers.MaxPooling3D(pool, padding="same", name=f"video_pool{i}"),
        ]
    pooling = keras.layers.GlobalAveragePooling3D(name="video_avg_pool")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="video_latent")

    # Functional graph.
    inputs = video_inputs(config)
    x = standardise(inputs["video_frames"])
    for block in blocks:
        x = block(x)
    return keras.Model(inputs, projection(pooling(x)), name="video_encoder")
