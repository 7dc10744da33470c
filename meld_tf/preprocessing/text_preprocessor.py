"""Text preprocessing: an utterance and its dialogue context -> the model's text inputs.

* ``TextPreprocessor``: the layer (text template + tokenizer + context packing +
  ``text_mask``).
* Dialogue context of a split's examples: ``split_metadata``, ``dialogue_contexts``,
  ``context_key``, ``context_lookup`` (the previous turns, ``"Speaker: text"``, most recent
  first, then the next turns after ``"Next:"``; a too long context loses its end when
  packed).
* Length helpers for batches: ``TEXT_INPUTS``, ``text_length``, ``trim_text``.
"""

import collections

import keras
import tensorflow as tf

from meld_tf.models import TextTokenizer
from meld_tf.train_config import template_parts

TEXT_INPUTS = ("text_token_ids", "text_segment_ids", "text_padding_mask")
METADATA = ("dialogue_id", "utterance_id", "speaker", "text")


@keras.saving.register_keras_serializable(package="meld_tf")
class TextPreprocessor(keras.layers.Layer):
    """Tokenizes utterances (with their dialogue context) into the model's text inputs.

    The utterance reads as ``template`` says (``"{text}"``: alone; ``"{speaker}: {text}"``:
    after its speaker's name); with ``context > 0`` the context (other turns of the
    dialogue) is the second segment (`meld_tf.models.TextTokenizer`: after a separator for
    bilstm, ``[SEP]``-packed for bert; the context is cut first).

    Args:
        tokenizer: a ``TextTokenizer`` (adapted, for bilstm), or its ``get_config()``.
        context: turns given as the second segment (``TrainConfig.context`` +
            ``future_context``); 0: none, and a given context is ignored.
        template: ``TrainConfig.text_template``.
        **kwargs: ``keras.layers.Layer`` arguments; ``dtype`` is float32 (preprocessing
            never runs in a mixed precision).

    Call arguments:
        text: strings (a tensor, or Python strings), scalar or ``(B,)``.
        context: strings of the same shape, or None: an empty context (the segments
            training had for a first utterance).
        speaker: strings of the same shape, or None (``""``): the utterance's speaker.
        present: bool of the same shape, or None (True): whether there is a text.

    Returns:
        ``{"text_token_ids", "text_padding_mask", "text_mask"}`` (+ ``"text_segment_ids"``
        for bert), ``(max_length,)`` or ``(B, max_length)``; ``text_mask`` float32 ``()``
        or ``(B,)``.

    Example:
    >>> tokenizer = TextTokenizer("bilstm", max_length=6, vocab_size=50)
    >>> tokenizer.adapt(["hello there", "hello you"])
    >>> layer = TextPreprocessor(tokenizer, context=1)
    >>> layer(tf.constant("hello you"), tf.constant("Ross: hello"))["text_token_ids"].shape
    TensorShape([6])
    """

    def __init__(self, tokenizer, context=0, template="{text}", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = TextTokenizer(**tokenizer)
        self.tokenizer = tokenizer
        self.context = context
        self.template = template
        self._parts = template_parts(template)
        self.built = True

    def __call__(self, text, context=None, speaker=None, **kwargs):
        # Python strings too, as the tokenizer takes them (Keras takes tensors positionally).
        text = tf.convert_to_tensor(text, tf.string)
        context = None if context is None else tf.convert_to_tensor(context, tf.string)
        speaker = None if speaker is None else tf.convert_to_tensor(speaker, tf.string)
        return super().__call__(text, context, speaker, **kwargs)

    def call(self, text, context=None, speaker=None, present=None):
        if self.context <= 0:
            context = None
        elif context is None:
            context = tf.fill(tf.shape(text), "")
        present = tf.fill(tf.shape(text), True) if present is None else present
        outputs = dict(self.tokenizer(self.fill_template(text, speaker), context))
        outputs["text_mask"] = tf.cast(present, tf.float32)
        return outputs

    def fill_template(self, text, speaker=None):
        """The utterance as the encoder reads it: ``template`` filled in (strings)."""
        if self.template == "{text}":
            return text
        values = {"text": text, "speaker": tf.fill(tf.shape(text), "") if speaker is None
                  else speaker}  # fmt: skip
        pieces = []
        for literal, field in self._parts:
            pieces += [tf.constant(literal)] if literal else []
            pieces += [values[field]] if field is not None else []
        return tf.strings.join(pieces) if len(pieces) > 1 else pieces[0]

    def get_config(self):
        config = super().get_config()
        config.update({"tokenizer": self.tokenizer.get_config(), "context": self.context,
                       "template": self.template})  # fmt: skip
        return config


# Dialogue context.


def context_key(dialogue_id, utterance_id):
    """The lookup key of an utterance in the context table."""
    return f"{int(dialogue_id)}/{int(utterance_id)}"


def split_metadata(split):
    """``[(dialogue_id, utterance_id, speaker, text)]`` of a split's examples, in order."""
    rows = split.map(lambda ex: tuple(ex[name] for name in METADATA))
    return [
        (int(d), int(u), s.decode("utf-8"), t.decode("utf-8"))
        for d, u, s, t in rows.as_numpy_iterator()
    ]


def dialogue_contexts(rows, num_turns, num_next=0):
    """Context strings of every utterance from its dialogue's previous ``num_turns`` turns
    and its next ``num_next`` turns.

    Args:
        rows: iterable of ``(dialogue_id, utterance_id, speaker, text)`` of one split.
        num_turns: how many previous utterances to give.
        num_next: how many next utterances to give.

    Returns:
        ``{context_key: "Speaker: text Speaker: text Next: Speaker: text"}``: the previous
        turns, most recent first, then ``"Next:"`` and the next turns, nearest first; the
        first utterance of a dialogue gets no previous turns, its last no ``"Next:"``.
    """
    dialogues = collections.defaultdict(list)
    for dialogue_id, utterance_id, speaker, text in rows:
        dialogues[int(dialogue_id)].append((int(utterance_id), speaker, text))
    contexts = {}
    for dialogue_id, turns in dialogues.items():
        turns.sort()
        for i, (utterance_id, _, _) in enumerate(turns):
            previous = turns[max(0, i - num_turns) : i][::-1]
            following = turns[i + 1 : i + 1 + num_next]
            words = [f"{speaker}: {text}" for _, speaker, text in previous]
            if following:
                words += ["Next:"] + [f"{speaker}: {text}" for _, speaker, text in following]
            contexts[context_key(dialogue_id, utterance_id)] = " ".join(words)
    return contexts


def context_lookup(rows, num_turns, num_next=0):
    """A function ``example -> context`` (scalar string tensor) for a ``tf.data`` map over
    the split whose ``split_metadata`` is ``rows``; an unknown utterance gets ``""``."""
    contexts = dialogue_contexts(rows, num_turns, num_next)
    keys, values = zip(*contexts.items()) if contexts else ((), ())
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.string), tf.constant(values, tf.string)
        ),
        default_value="",
    )

    def lookup(example):
        key = tf.strings.format("{}/{}", (example["dialogue_id"], example["utterance_id"]))
        return table.lookup(key)

    return lookup


# Lengths, for batches.


def text_length(inputs, *_):
    """Tokens of an example's text (padding excluded); padding always trails."""
    return tf.reduce_sum(tf.cast(inputs["text_padding_mask"], tf.int32), axis=-1)


def trim_text(inputs):
    """A batch's text inputs cut to its longest text."""
    longest = tf.reduce_max(text_length(inputs))
    return {
        name: value[:, :longest] if name in TEXT_INPUTS else value
        for name, value in inputs.items()
    }
