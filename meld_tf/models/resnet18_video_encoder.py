"""Video encoder: a ResNet18 on every frame, then pooling or an LSTM over time."""

import os

import keras
import keras_hub

from meld_tf.models.fast_conv2d import FastConv2D
from meld_tf.models.frames_as_batch import FramesAsBatch
from meld_tf.models.normalization import encoder_norm

RESNET18_BLOCKS = (2, 2, 2, 2)


def video_inputs(config):
    """The video input: ``(num_frames, frame_size, frame_size, 3)`` float32 in [0, 1]."""
    size = config.frame_size
    return {
        "video_frames": keras.Input(
            (config.num_frames, size, size, 3), dtype="float32", name="video_frames"
        )
    }


def _basic_block(x, filters, stride, config, name):
    """Two 3x3 convolutions with a residual connection (ResNet's basic block)."""
    shortcut = x
    y = FastConv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1"
    )(x)
    y = encoder_norm(filters, config, name=f"{name}_norm1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = FastConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = encoder_norm(filters, config, name=f"{name}_norm2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = FastConv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_proj"
        )(x)
        shortcut = encoder_norm(filters, config, name=f"{name}_proj_norm")(shortcut)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def build_resnet18(config):
    """Returns a functional ResNet18: one frame ``(S, S, 3)`` -> vector ``(8 * width,)``.

    The standard ResNet18 (7x7 stem, max pooling, four stages of two basic blocks of
    widths ``width * (1, 2, 4, 8)``, global average pooling; ``video_width=64`` is the
    original), with ``config.norm`` as normalisation (see `meld_tf.models.normalization`).
    """
    width = config.video_width
    frame = keras.Input((config.frame_size, config.frame_size, 3), name="frame")
    x = FastConv2D(width, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(
        frame
    )
    x = encoder_norm(width, config, name="stem_norm")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, num_blocks in enumerate(RESNET18_BLOCKS):
        for block in range(num_blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, width * 2**stage, stride, config, name=f"stage{stage}_block{block}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(frame, x, name="resnet18")


def build_frame_cnn(config):
    """The per-frame CNN: a KerasHub ResNet preset if ``config.video_preset`` is set.

    A preset backbone gets the [0, 1] frames as they are: rescale inside the preset's
    own layers or fine-tune, as KerasHub's ``ResNetImageConverter`` is not applied.
    """
    if not config.video_preset:
        return build_resnet18(config)
    if not os.path.isdir(config.video_preset):
        raise ValueError(
            f"video_preset {config.video_preset!r} is not an existing folder; valid choices: "
            "'' (a ResNet18 built from video_width) or the path of a local KerasHub "
            "ResNet preset folder."
        )
    backbone = keras_hub.models.ResNetBackbone.from_preset(
        config.video_preset, name="resnet_backbone"
    )
    frame = keras.Input((config.frame_size, config.frame_size, 3), name="frame")
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(backbone(frame))
    return keras.Model(frame, pooled, name="resnet18")


def build_resnet18_video_encoder(config):
    """Returns a functional model: ``{"video_frames"}`` -> latent ``(B, latent_dim)``.

    The frame CNN runs on every frame (`FramesAsBatch`); ``config.video_temporal``
    is ``"mean"`` (average over frames) or ``"lstm"`` (an LSTM of ``latent_dim`` units).
    """
    # Layers.
    per_frame = FramesAsBatch(build_frame_cnn(config), name="frame_cnn")
    if config.video_temporal == "lstm":
        temporal = keras.layers.LSTM(config.latent_dim, name="video_lstm")
    else:
        temporal = keras.layers.GlobalAveragePooling1D(name="video_mean")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="video_latent")

    # Functional graph.
    inputs = video_inputs(config)
    features = per_frame(inputs["video_frames"])
    return keras.Model(inputs, projection(temporal(features)), name="video_encoder")
