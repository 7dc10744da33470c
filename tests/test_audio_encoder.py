import pytest
from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models.audio_encoder import build_audio_encoder


@pytest.mark.parametrize(("features", "pooling"), [("logmel", "stats"), ("mfcc", "lstm")])
def test_audio_encoder(features, pooling, tmp_path):
    kwargs = {**tiny_config_kwargs(), "audio_conv_filters": (4, 6)}
    config = ModelConfig(
        **kwargs, modalities=("audio",), audio_features=features, audio_pooling=pooling
    )
    encoder = build_audio_encoder(config)
    inputs = {"audio_features": random_inputs(config)["audio_features"]}
    assert inputs["audio_features"].shape[-1] == config.audio_feature_dim
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path)

