"""MPNet's tokenizer: BERT's uncased WordPiece with RoBERTa's special tokens."""

import json
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

# The special tokens of MPNet: <s> (id 0) starts a sequence, </s> (id 2) ends each
# segment and a pair is packed ``<s> A </s></s> B </s>``, <pad> (id 1) pads.
CLS_TOKEN, PAD_TOKEN, SEP_TOKEN, MASK_TOKEN = "<s>", "<pad>", "</s>", "<mask>"


@keras.saving.register_keras_serializable(package="meld_tf")
class MPNetTokenizer(keras_hub.tokenizers.WordPieceTokenizer):
    """Strings to MPNet word piece ids, as transformers' ``MPNetTokenizer`` splits them.

    A KerasHub ``WordPieceTokenizer`` (lowercased, accents stripped: Hugging Face's
    ``BertNormalizer`` with ``lowercase=True``) that checks for MPNet's special tokens
    and names them as KerasHub's ``BertTokenizer`` does (``cls_token_id``,
    ``sep_token_id``, ``pad_token_id``, ``mask_token_id``, ``start_token_id``,
    ``end_token_id``), so that a ``MultiSegmentPacker`` can pack its output. Out of
    vocabulary words become ``[UNK]`` (id 104 in all-mpnet-base-v2). Special tokens
    written in the input strings are not recognised (``special_tokens_in_strings``).

    Lowercasing is Unicode lowercasing, as Hugging Face's, done before the word pieces;
    not KerasHub's case folding (NFKC), which would turn ``…`` into ``...`` and ``ß``
    into ``ss``, words that all-mpnet-base-v2 never saw so.

    Args:
        vocabulary: a list of word pieces or a ``vocab.txt`` path.
        lowercase: lowercase the input first.
        strip_accents: remove accents (after an NFD decomposition).
        oov_token: the word piece of unknown words.
        **kwargs: ``WordPieceTokenizer`` arguments.

    Example:
    >>> vocab = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "cafe", "!", "<mask>"]
    >>> tokenizer = MPNetTokenizer(vocabulary=vocab)
    >>> tokenizer("Café!").tolist(), tokenizer.pad_token_id
    ([5, 6], 1)
    """

    def __init__(
        self, vocabulary=None, lowercase=True, strip_accents=True, oov_token="[UNK]", **kwargs
    ):
        self._add_special_token(CLS_TOKEN, "cls_token")
        self._add_special_token(SEP_TOKEN, "sep_token")
        self._add_special_token(PAD_TOKEN, "pad_token")
        self._add_special_token(MASK_TOKEN, "mask_token")
        self._add_special_token(CLS_TOKEN, "start_token")
        self._add_special_token(SEP_TOKEN, "end_token")
        super().__init__(
            vocabulary=vocabulary,
            lowercase=False,  # tokenize() lowercases.
            strip_accents=strip_accents,
            oov_token=oov_token,
            **kwargs,
        )
        self.lowercase_first = lowercase

    def tokenize(self, inputs):
        if self.lowercase_first:
            inputs = lowercase(inputs)
        return super().tokenize(inputs)

    def get_config(self):
        config = super().get_config()
        config["lowercase"] = self.lowercase_first
        return config

    @classmethod
    def from_hf_folder(cls, path, **kwargs):
        """The tokenizer of a Hugging Face MPNet folder (``vocab.txt``, and
        ``do_lower_case`` of ``tokenizer_config.json`` when there is one)."""
        options = {}
        config_file = os.path.join(path, "tokenizer_config.json")
        if os.path.isfile(config_file):
            with open(config_file, encoding="utf-8") as f:
                config = json.load(f)
            options["lowercase"] = config.get("do_lower_case", True)
            if config.get("strip_accents") is not None:  # None: strip when lowercasing.
                options["strip_accents"] = config["strip_accents"]
            else:
                options["strip_accents"] = options["lowercase"]
        return cls(vocabulary=os.path.join(path, "vocab.txt"), **{**options, **kwargs})


def lowercase(inputs):
    """Unicode lowercase of strings: Python ones (``str``, ``bytes``, lists of them) with
    ``str.lower``, tensors and arrays with ``tf.strings.lower`` (ICU)."""
    if isinstance(inputs, str):
        return inputs.lower()
    if isinstance(inputs, bytes):
        return inputs.decode("utf-8").lower()
    if isinstance(inputs, (list, tuple)):
        return [lowercase(x) for x in inputs]
    if isinstance(inputs, tf.RaggedTensor):
        return tf.ragged.map_flat_values(tf.strings.lower, inputs, encoding="utf-8")
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind == "U":
        return np.char.lower(inputs)
    return tf.strings.lower(inputs, encoding="utf-8")
