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
    # (batch-norm moving statistics are not parameters there).
    model = build_resnet18(frame_size=112, width=64)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 11_176_512
