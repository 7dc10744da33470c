from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models.conv3d_video_encoder import build_conv3d_video_encoder


def test_conv3d_video_encoder(tmp_path):
    config = ModelConfig(**tiny_config_kwargs(), modalities=("video",), video_encoder="conv3d")
    encoder = build_conv3d_video_encoder(config)
    inputs = {"video_frames": random_inputs(config)["video_frames"]}
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path)
