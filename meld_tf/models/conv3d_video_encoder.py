"""Video encoder: a small 3D CNN over (time, height, width)."""

import keras

from meld_tf.models.resnet18_video_encoder import video_inputs

CONV3D_STAGES = 3


def build_conv3d_video_encoder(config):
    """Returns a functional model: ``{"video_frames"}`` -> latent ``(B, latent_dim)``.

    Three blocks of Conv3D (3x3x3, ``video_width * (1, 2, 4)`` filters), batch
    normalisation, ReLU and max pooling (space by 2, time by 2 after the first block),
    then global average pooling and a Dense projection.
    """
    # Layers.
    blocks = []
    for i in range(CONV3D_STAGES):
        pool = (1, 2, 2) if i == 0 else (2, 2, 2)
        blocks += [
            keras.layers.Conv3D(
                config.video_width * 2**i, 3, padding="same", use_bias=False, name=f"video_conv{i}"
            ),
            keras.layers.BatchNormalization(name=f"video_bn{i}"),
            keras.layers.ReLU(name=f"video_relu{i}"),
            keras.layers.MaxPooling3D(pool, padding="same", name=f"video_pool{i}"),
        ]
    pooling = keras.layers.GlobalAveragePooling3D(name="video_avg_pool")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="video_latent")

    # Functional graph.
    inputs = video_inputs(config)
    x = inputs["video_frames"]
    for block in blocks:
        x = block(x)
    return keras.Model(inputs, projection(pooling(x)), name="video_encoder")
