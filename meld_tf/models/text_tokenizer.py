"""Text tokenization for the data pipeline (outside the model).

For ``bert``: KerasHub's ``BertTokenizer`` of the preset and a ``MultiSegmentPacker``:
``[CLS] utterance [SEP] context [SEP]``, segment ids 0 then 1; when too long the context
is cut first (``waterfall``). An MPNet preset (``mpnet_base``) has its ``MPNetTokenizer``
and packs ``<s> utterance </s></s> context </s>``, padded with its ``<pad>``, id 1 (the
model reads the padding mask, and has no segment embeddings: it ignores the segment ids).
For ``bilstm``: a ``TextVectorization`` vocabulary adapted on training texts; the context
follows the utterance after a separator token, and the context is cut first when too long.
Token id 0 is padding in both, except for MPNet.
"""

import json
import os

import keras
import keras_hub
import tensorflow as tf

from meld_tf.models.mpnet_tokenizer import MPNetTokenizer
from meld_tf.models.presets import load_bert_tokenizer

CONFIG_FILE = "text_tokenizer.json"
VOCABULARY_FILE = "vocabulary.txt"
BERT_CONFIG_FILE = "bert_tokenizer.json"
# BertTokenizer options kept by save() (the vocabulary goes to its own file).
BERT_OPTIONS = ("lowercase", "strip_accents", "split", "suffix_indicator", "oov_token")
SEPARATOR = "[sep]"  # Never produced by TextVectorization's standardization (no punctuation).
# The classes of bert tokenizers that save() names (older saves name none: BertTokenizer).
BERT_TOKENIZERS = {"BertTokenizer": keras_hub.models.BertTokenizer,
                   "MPNetTokenizer": MPNetTokenizer}  # fmt: skip


class TextTokenizer:
    """Turns strings into the model's text inputs.

    Args:
        encoder: ``"bert"`` or ``"bilstm"`` (``ModelConfig.text_encoder``).
        max_length: tokens per example (``ModelConfig.text_max_length``).
        vocab_size: ``bilstm`` vocabulary size, padding and OOV ids included.
        bert_tokenizer: for ``bert``, a KerasHub ``BertTokenizer`` or an ``MPNetTokenizer``,
            or the ``"bert_tokenizer"`` entry of ``get_config`` (its class, options and
            vocabulary).
        vocabulary: for ``bilstm``, an adapted vocabulary (list of tokens, special tokens
            excluded), or None until ``adapt``.

    Call arguments:
        texts: a tf string tensor, scalar or ``(B,)``.
        context: optional strings of the same shape (the preceding dialogue turns).

    Returns:
        ``{"text_token_ids", "text_padding_mask"}`` (+ ``"text_segment_ids"`` for bert),
        each ``(max_length,)`` or ``(B, max_length)``.

    Example:
    >>> tokenizer = TextTokenizer("bilstm", max_length=6, vocab_size=50)
    >>> tokenizer.adapt(["hello there", "hello you"])
    >>> tokenizer(tf.constant("hello you"))["text_token_ids"].numpy().tolist()[2:]
    [0, 0, 0, 0]
    """

    def __init__(self, encoder, max_length, vocab_size=None, bert_tokenizer=None, vocabulary=None):
        if encoder not in ("bert", "bilstm"):
            raise ValueError(f"Unknown text_encoder {encoder!r}; valid choices: 'bert', 'bilstm'.")
        if isinstance(bert_tokenizer, dict):
            options = dict(bert_tokenizer)
            bert_tokenizer = BERT_TOKENIZERS[options.pop("class", "BertTokenizer")](**options)
        self.encoder = encoder
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.bert_tokenizer = bert_tokenizer
        self.vectorizer = None
        if encoder == "bert":
            sep = bert_tokenizer.sep_token_id
            self.packer = keras_hub.layers.MultiSegmentPacker(
                sequence_length=max_length,
                start_value=bert_tokenizer.cls_token_id,
                end_value=sep,
                sep_value=[sep, sep] if isinstance(bert_tokenizer, MPNetTokenizer) else None,
                pad_value=bert_tokenizer.pad_token_id,
                truncate="waterfall",
            )
        elif vocabulary is not None:
            self._set_vocabulary(vocabulary)

    @classmethod
    def from_config(cls, config):
        """Returns the tokenizer that matches ``config`` (a ``ModelConfig``)."""
        if config.text_encoder == "bert":
            return cls("bert", config.text_max_length, bert_tokenizer=load_bert_tokenizer(
                config.text_preset))
        return cls("bilstm", config.text_max_length, vocab_size=config.text_vocab_size)

    def _set_vocabulary(self, vocabulary):
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=self.vocab_size, vocabulary=list(vocabulary), ragged=True
        )
        self.separator_id = self.vectorizer.get_vocabulary().index(SEPARATOR)

    def adapt(self, texts):
        """Builds the ``bilstm`` vocabulary from training texts (no-op for bert).

        The ``vocab_size - 3`` most frequent words are kept (ids 0 and 1 are padding and
        out-of-vocabulary, the last id the separator).
        """
        if self.encoder == "bert":
            return
        vectorizer = keras.layers.TextVectorization(max_tokens=self.vocab_size)
        vectorizer.adapt(texts)
        words = vectorizer.get_vocabulary(include_special_tokens=False)
        self._set_vocabulary(list(words)[: self.vocab_size - 3] + [SEPARATOR])

    @property
    def vocabulary(self):
        """The ``bilstm`` vocabulary (special tokens excluded), or None."""
        if self.vectorizer is None:
            return None
        return [str(w) for w in self.vectorizer.get_vocabulary(include_special_tokens=False)]

    def layers(self):
        """The Keras layers that hold the tokenizer's state (vocabularies, lookup tables)."""
        found = [self.bert_tokenizer, getattr(self, "packer", None), self.vectorizer]
        return [layer for layer in found if layer is not None]

    def __call__(self, texts, context=None):
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        scalar = texts.shape.rank == 0
        if scalar:
            texts = texts[None]
            context = None if context is None else tf.convert_to_tensor(context)[None]
        if self.encoder == "bert":
            outputs = self._bert(texts, context)
        else:
            outputs = self._bilstm(texts, context)
        if scalar:
            outputs = {name: value[0] for name, value in outputs.items()}
        return outputs

    def _bert(self, texts, context):
        segments = self.bert_tokenizer(texts)
        if context is not None:
            segments = (segments, self.bert_tokenizer(context))
        token_ids, segment_ids = self.packer(segments)
        return {
            "text_token_ids": tf.cast(token_ids, tf.int32),
            "text_segment_ids": tf.cast(segment_ids, tf.int32),
            "text_padding_mask": token_ids != self.bert_tokenizer.pad_token_id,
        }

    def _bilstm(self, texts, context):
        if self.vectorizer is None:
            raise ValueError("The bilstm TextTokenizer has no vocabulary: call adapt(texts) first.")
        token_ids = self.vectorizer(texts)
        if context is not None:
            separator_id = tf.cast(self.separator_id, token_ids.dtype)
            separator = tf.fill([tf.shape(texts)[0], 1], separator_id)
            token_ids = tf.concat([token_ids, separator, self.vectorizer(context)], axis=1)
        token_ids = tf.cast(token_ids.to_tensor(0, shape=[None, self.max_length]), tf.int32)
        return {"text_token_ids": token_ids, "text_padding_mask": token_ids != 0}

    def get_config(self):
        """Every constructor argument, JSON-able (``TextTokenizer(**config)`` rebuilds it)."""
        config = {"encoder": self.encoder, "max_length": self.max_length,
                  "vocab_size": self.vocab_size}  # fmt: skip
        if self.encoder == "bert":
            options = self.bert_tokenizer.get_config()
            options = {key: options[key] for key in BERT_OPTIONS}
            options["class"] = type(self.bert_tokenizer).__name__
            options["vocabulary"] = list(self.bert_tokenizer.get_vocabulary())
            config["bert_tokenizer"] = options
        else:
            config["vocabulary"] = self.vocabulary
        return config

    def save(self, directory):
        """Writes ``get_config`` to ``directory`` (created if needed): the sizes to
        ``text_tokenizer.json``, the bert options to ``bert_tokenizer.json``, the
        vocabulary to ``vocabulary.txt``, one token a line."""
        os.makedirs(directory, exist_ok=True)
        config = self.get_config()
        words = config.pop("vocabulary", None)
        bert_config = config.pop("bert_tokenizer", None)
        with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        if bert_config is not None:
            words = bert_config.pop("vocabulary")
            with open(os.path.join(directory, BERT_CONFIG_FILE), "w", encoding="utf-8") as f:
                json.dump(bert_config, f, indent=2)
        with open(os.path.join(directory, VOCABULARY_FILE), "w", encoding="utf-8") as f:
            f.write("".join(f"{word}\n" for word in words or []))

    @classmethod
    def load(cls, directory):
        """Restores a tokenizer written by ``save``."""
        path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No {CONFIG_FILE} in {directory!r}: not a folder written by TextTokenizer.save."
            )
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        with open(os.path.join(directory, VOCABULARY_FILE), encoding="utf-8") as f:
            words = f.read().splitlines()
        if config["encoder"] == "bert":
            with open(os.path.join(directory, BERT_CONFIG_FILE), encoding="utf-8") as f:
                config["bert_tokenizer"] = {**json.load(f), "vocabulary": words}
        elif words:
            config["vocabulary"] = words
        return cls(**config)
