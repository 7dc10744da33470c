import keras_hub
import numpy as np
import pytest
from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models.resnet18_video_encoder import build_resnet18, build_resnet18_video_encoder


@pytest.mark.parametrize("temporal", ["mean", "lstm"])
def test_resnet18_video_encoder(temporal, tmp_path):
    config = ModelConfig(**tiny_config_kwargs(), modalities=("video",), video_temporal=temporal)
    encoder = build_resnet18_video_encoder(config)
    inputs = {"video_frames": random_inputs(config)["video_frames"]}
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path)


def test_standard_resnet18_size():
    # The torchvision ResNet18 without its 1000-class head has 11,176,512 parameters
    # (batch-norm moving statistics are not parameters there; group norm has the same
    # scale and offset per channel as batch norm).
    model = build_resnet18(ModelConfig(frame_size=112, video_width=64))
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 11_176_512


def test_local_keras_hub_preset(tmp_path):
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 8],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(32, 32, 3),
    )
    preset = str(tmp_path / "resnet_preset")
    backbone.save_to_preset(preset)
    config = ModelConfig(**tiny_config_kwargs(), modalities=("video",), video_preset=preset)
    encoder = build_resnet18_video_encoder(config)
    inputs = {"video_frames": random_inputs(config)["video_frames"]}
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path, train=False)


def test_missing_preset_folder():
    config = ModelConfig(**tiny_config_kwargs(), modalities=("video",), video_preset="/no/resnet")
    with pytest.raises(ValueError, match="'/no/resnet'"):
        build_resnet18_video_encoder(config)
