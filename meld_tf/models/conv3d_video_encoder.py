"""Video encoder: a small 3D CNN over (time, height, width)."""

import keras

from meld_tf.models.normalization import encoder_norm
from meld_tf.models.resnet18_video_encoder import video_inputs

CONV3D_STAGES = 3
KERNEL_DEPTH = 3  # frames spanned by a convolution, where that many frames remain


def build_conv3d_video_encoder(config):
    """Returns a functional model: ``{"video_frames"}`` -> latent ``(B, latent_dim)``.

    Three blocks of Conv3D (``video_width * (1, 2, 4)`` filters), normalisation
    (``config.norm``, see `meld_tf.models.normalization`), ReLU and max pooling (space by
    2; time by 2 after the first block, but only while at least `KERNEL_DEPTH` frames
    remain for the next convolution), then global average pooling and a Dense projection.
    The kernels are 3x3 in space and span at most the frames present in time, so no
    convolution runs over fewer frames than its depth (TensorFlow's CPU bfloat16 Conv3D
    gradient is wrong there, which made bfloat16 training (``--precision bf16``) write NaN weights).
    """
    # Layers.
    blocks, frames = [], config.num_frames
    for i in range(CONV3D_STAGES):
        depth = min(KERNEL_DEPTH, frames)
        pool_time = 2 if i > 0 and frames // 2 >= KERNEL_DEPTH else 1
        blocks += [
            keras.layers.Conv3D(
                config.video_width * 2**i,
                (depth, 3, 3),
                padding="same",
                use_bias=False,
                name=f"video_conv{i}",
            ),
            encoder_norm(config.video_width * 2**i, config, name=f"video_norm{i}"),
            keras.layers.ReLU(name=f"video_relu{i}"),
            keras.layers.MaxPooling3D((pool_time, 2, 2), padding="same", name=f"video_pool{i}"),
        ]
        frames = -(-frames // pool_time)
    pooling = keras.layers.GlobalAveragePooling3D(name="video_avg_pool")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="video_latent")

    # Functional graph.
    inputs = video_inputs(config)
    x = inputs["video_frames"]
    for block in blocks:
        x = block(x)
    return keras.Model(inputs, projection(pooling(x)), name="video_encoder")
