import numpy as np
from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models.bilstm_text_encoder import build_bilstm_text_encoder


def test_bilstm_encoder(tmp_path):
    config = ModelConfig(**tiny_config_kwargs(), modalities=("text",), text_encoder="bilstm")
    encoder = build_bilstm_text_encoder(config)
    inputs = random_inputs(config)
    del inputs["text_mask"]
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path)


def test_padding_does_not_change_the_latent():
    config = ModelConfig(**tiny_config_kwargs(), modalities=("text",), text_encoder="bilstm")
    encoder = build_bilstm_text_encoder(config)
    padding = np.array([[True] * 3 + [False] * 5])
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0]], "int32")
    noisy = np.array([[5, 6, 7, 9, 9, 9, 9, 9]], "int32")
    first = encoder({"text_token_ids": ids, "text_padding_mask": padding})
    second = encoder({"text_token_ids": noisy, "text_padding_mask": padding})
    np.testing.assert_allclose(np.asarray(first), np.asarray(second), atol=1e-6)
