"""The data pipeline: MELD examples -> (model inputs, one-hot labels[, sample weights]).

``MeldPreprocessor`` is the one place that turns a dataset example (the TFDS features of
ARCHITECTURE.md) into the model's inputs. Training, ``evaluate`` and ``predict`` all use
it, restored from the run folder, so the exact same inputs are built everywhere.

Per example (a ``tf.data`` map, run once: the result is cached):

* text: ``"Speaker"`` is not added to the utterance; with ``context > 0`` the previous
  utterances of the dialogue, ``"Speaker: text"``, most recent first (a too long context
  loses its oldest turns), are the second segment; tokenized by the ``TextTokenizer``.
* audio: int16 -> float32 in [-1, 1] -> log-mel / MFCC frames (``compute_audio_features``).
* video: ``config.model.video_source`` (``face_frames`` or ``frames``), ``num_frames``
  picked evenly, resized to ``frame_size``; kept uint8 in the cache and turned into
  float32 in [0, 1] per batch.
* masks: ``text_mask`` 1.0 (``has_text`` if the example has it), ``audio_mask`` =
  ``has_audio``, ``video_mask`` = ``has_video``.
* labels: one-hot ``emotion`` (7) and ``sentiment`` (3), so label smoothing works.
"""

import collections
import json
import os

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from meld_tf.data.audio_features import compute_audio_features
from meld_tf.labels import EMOTIONS, SENTIMENTS
from meld_tf.models import TextTokenizer

CONFIG_FILE = "preprocessor.json"
TOKENIZER_DIR = "tokenizer"
SAMPLE_RATE = 16000  # of the dataset's stored audio (ARCHITECTURE.md)
GROUP_BATCHES = 50  # With bucket_by_length, batches are formed in windows of this many.
TEXT_INPUTS = ("text_token_ids", "text_segment_ids", "text_padding_mask")
METADATA = ("dialogue_id", "utterance_id", "speaker", "text")


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


def media_of(split):
    """The stored media geometry of a split (``None`` for a text-only dataset)."""
    spec = split.element_spec
    if "frames" not in spec:
        return None
    num_frames, frame_size = spec["frames"].shape[0], spec["frames"].shape[1]
    return {"num_frames": num_frames, "frame_size": frame_size, "sample_rate": SAMPLE_RATE}


def dialogue_contexts(rows, num_turns):
    """Context strings of every utterance from its dialogue's previous ``num_turns`` turns.

    Args:
        rows: iterable of ``(dialogue_id, utterance_id, speaker, text)`` of one split.
        num_turns: how many previous utterances to give.

    Returns:
        ``{context_key: "Speaker: text Speaker: text"}``, most recent turn first; the
        first utterance of a dialogue gets ``""``.
    """
    dialogues = collections.defaultdict(list)
    for dialogue_id, utterance_id, speaker, text in rows:
        dialogues[int(dialogue_id)].append((int(utterance_id), speaker, text))
    contexts = {}
    for dialogue_id, turns in dialogues.items():
        turns.sort()
        for i, (utterance_id, _, _) in enumerate(turns):
            previous = turns[max(0, i - num_turns) : i][::-1]
            contexts[context_key(dialogue_id, utterance_id)] = " ".join(
                f"{speaker}: {text}" for _, speaker, text in previous
            )
    return contexts


def sample_frames(frames, count, size, resize=True):
    """``count`` frames picked evenly from uint8 ``frames`` ``(T, H, W, 3)``, resized to
    ``size`` (antialiased, rounded) unless ``resize`` is False; stays uint8."""
    last = tf.cast(tf.shape(frames)[0] - 1, tf.float32)
    index = tf.cast(tf.round(tf.linspace(0.0, last, count)), tf.int32)
    frames = tf.gather(frames, tf.maximum(index, 0))
    if resize:
        resized = tf.image.resize(frames, (size, size), antialias=True)
        frames = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return tf.ensure_shape(frames, (count, size, size, 3))


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


ORDER_GRAPH_SEED = 1  # see epoch_shuffle


def order_seed(seed, epoch=None):
    """The int64 seed of an epoch's order: a function of ``(seed, epoch)`` only."""
    number = tf.constant(0, tf.int64) if epoch is None else epoch.read_value()
    return tf.random.stateless_uniform(
        [], tf.stack([tf.constant(seed, tf.int64), number]), None, None, tf.int64
    )


def epoch_shuffle(data, buffer_size, seed, epoch=None):
    """``data`` shuffled in an order that is a function of ``(seed, epoch)`` only.

    Args:
        data: a dataset of known cardinality (a ``preprocess``-ed split).
        buffer_size: the shuffle buffer.
        seed: the run's seed.
        epoch: an int64 ``tf.Variable``, read each time the result is iterated; set it to
            the epoch about to start (`meld_tf.callbacks.DataOrder`), so that a resumed
            run sees the orders of an uninterrupted one. None: epoch 0's order every time.
    """

    def one_epoch(_):
        # TensorFlow pairs an op seed with the graph seed and compares the pair with (0, 0)
        # in Python, which a tensor op seed cannot answer when the global seed is 0 (e.g.
        # after keras.utils.set_random_seed(0), --seed 0). A fixed seed for this function's
        # graph avoids that, and keeps the order a function of (seed, epoch) alone.
        tf.random.set_seed(ORDER_GRAPH_SEED)
        return data.shuffle(
            buffer_size, seed=order_seed(seed, epoch), reshuffle_each_iteration=False
        )

    shuffled = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    return shuffled.apply(tf.data.experimental.assert_cardinality(data.cardinality()))


def length_grouped_batches(data, batch_size, seed, epoch=None):
    """Batches of texts of similar length, formed as the PyTorch peer forms them.

    ``data`` (already shuffled) is cut into windows of ``GROUP_BATCHES`` batches; each
    window is sorted by text length and cut into batches, and the batches of a window are
    shuffled (an order drawn from ``(seed, epoch, window)``). Every example is in one
    batch, as many batches as plain batching gives, and the last batch of each window
    is the only partial one.
    """

    def window_batches(index, examples):
        order = tf.argsort(text_length(examples[0]), direction="DESCENDING", stable=True)
        starts = tf.range(0, tf.shape(order)[0], batch_size)
        key = tf.random.stateless_uniform(
            tf.shape(starts), tf.stack([order_seed(seed, epoch), index])
        )
        starts = tf.gather(starts, tf.argsort(key))

        def batch(start):
            picked = order[start:start + batch_size]
            return tf.nest.map_structure(lambda t: tf.gather(t, picked), examples)

        return tf.data.Dataset.from_tensor_slices(starts).map(batch)

    num_batches = -(-int(data.cardinality()) // batch_size)
    batches = data.batch(batch_size * GROUP_BATCHES).enumerate().flat_map(window_batches)
    return batches.apply(tf.data.experimental.assert_cardinality(num_batches))


def balanced_class_weights(counts):
    """``N / (C * n_c)`` per class (scikit-learn's "balanced"); 0 for an absent class."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


class MeldPreprocessor:
    """Maps MELD examples to model inputs, labels and (for training) sample weights.

    Args:
        config: the run's ``TrainConfig``.
        tokenizer: the ``TextTokenizer`` of ``config.model`` (adapted, for bilstm).
        media: ``{"num_frames", "frame_size", "sample_rate"}`` of the dataset's stored
            media (what ``predict`` must decode a clip to), or None for a text dataset.
        class_weights: per-emotion weights of the emotion loss, or None.

    Call arguments:
        example: a dict of one example's features (tensors).
        context: optional scalar string tensor, the dialogue context of the example.

    Returns:
        ``(inputs, labels)``: ``inputs`` the model's input dict for
        ``config.model.modalities`` (video uint8 until ``finalize``), ``labels``
        ``{"emotion": (7,), "sentiment": (3,)}`` one-hot float32.

    Example (see ``tests/test_preprocessor.py``):
        preprocessor = MeldPreprocessor.from_config(config, media_of(splits["train"]))
        preprocessor.adapt(train_texts)
        train = preprocessor.batches(preprocessor.preprocess(splits["train"]), training=True)
    """

    def __init__(self, config, tokenizer, media=None, class_weights=None):
        self.config = config
        self.model_config = config.model
        self.tokenizer = tokenizer
        self.media = dict(media) if media else None
        self.class_weights = None if class_weights is None else list(map(float, class_weights))
        missing = [m for m in ("audio", "video") if m in config.model.modalities and not media]
        if missing:
            raise ValueError(
                f"Modalities {missing} need clips, but this dataset holds text only; "
                "use --dataset full or sample, or --modalities text."
            )

    @classmethod
    def from_config(cls, config, media=None):
        """A new preprocessor for ``config``; call ``adapt`` before use for bilstm."""
        return cls(config, TextTokenizer.from_config(config.model), media)

    def adapt(self, texts):
        """Fits what is learnt from training texts (the bilstm vocabulary)."""
        self.tokenizer.adapt(texts)

    # Per example.

    def __call__(self, example, context=None):
        modalities = self.model_config.modalities
        inputs = {}
        if "text" in modalities:
            if self.config.context > 0 and context is None:
                context = tf.constant("")  # Same segments as in training: an empty context.
            inputs.update(self.tokenizer(example["text"], context))
            # Dataset examples always have text; ``predict`` may give a clip without text.
            inputs["text_mask"] = tf.cast(example.get("has_text", True), tf.float32)
        if "audio" in modalities:
            waveform = tf.cast(example["audio"], tf.float32) / 32768.0
            inputs["audio_features"] = compute_audio_features(waveform, self.model_config)
            inputs["audio_mask"] = tf.cast(example["has_audio"], tf.float32)
        if "video" in modalities:
            inputs["video_frames"] = self._frames(example[self.model_config.video_source])
            inputs["video_mask"] = tf.cast(example["has_video"], tf.float32)
        return inputs, self.labels(example)

    @staticmethod
    def labels(example):
        """One-hot labels of an example."""
        return {
            "emotion": tf.one_hot(tf.cast(example["emotion"], tf.int32), len(EMOTIONS)),
            "sentiment": tf.one_hot(tf.cast(example["sentiment"], tf.int32), len(SENTIMENTS)),
        }

    def _frames(self, frames):
        """Picks ``num_frames`` evenly and resizes to ``frame_size``; stays uint8."""
        config = self.model_config
        resize = bool(self.media) and self.media["frame_size"] != config.frame_size
        return sample_frames(frames, config.num_frames, config.frame_size, resize)

    def finalize(self, inputs, labels, weights=None):
        """Per batch, after the cache: video frames to float32 in [0, 1]; with
        ``bucket_by_length``, text padding trimmed (``trim_text``); the emotion label
        repeated for the model's auxiliary heads."""
        labels = {**labels, **{name: labels["emotion"] for name in self.auxiliary_heads}}
        if "video_frames" in inputs:
            inputs = dict(inputs)
            inputs["video_frames"] = tf.cast(inputs["video_frames"], tf.float32) / 255.0
        if self.config.bucket_by_length and "text_padding_mask" in inputs:
            inputs = trim_text(inputs)
        return (inputs, labels) if weights is None else (inputs, labels, weights)

    @property
    def auxiliary_heads(self):
        return self.model_config.auxiliary_heads

    def sample_weights(self, inputs, labels):
        """``{"emotion": class weight of the example (1 without class weights),
        "sentiment": 1}``, and for each auxiliary head ``"<modality>_emotion"`` the class
        weight times the modality's mask: an encoder learns nothing from absent input."""
        index = tf.argmax(labels["emotion"], axis=-1)
        if self.class_weights is None:
            emotion = tf.ones_like(index, tf.float32)
        else:
            emotion = tf.gather(tf.constant(self.class_weights, tf.float32), index)
        weights = {"emotion": emotion, "sentiment": tf.ones_like(emotion)}
        for name in self.auxiliary_heads:
            modality = name.removesuffix("_emotion")
            weights[name] = emotion * tf.cast(inputs[f"{modality}_mask"], tf.float32)
        return weights

    # Whole splits.

    def context_table(self, rows):
        """A lookup table ``context_key -> context`` from a split's ``split_metadata``."""
        contexts = dialogue_contexts(rows, self.config.context)
        keys, values = zip(*contexts.items()) if contexts else ((), ())
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant(values, tf.string)
            ),
            default_value="",
        )

    def preprocess(self, split, name="", rows=None, cache=""):
        """The cached, unbatched ``(inputs, labels)`` of a split of examples.

        Tokens, audio features and frames are computed here once, with a progress bar,
        and cached (in memory, or in files with the prefix ``cache``); every epoch then
        reads the cache. ``rows`` (``split_metadata``) is needed only with context.
        """
        if self.config.context > 0:
            table = self.context_table(split_metadata(split) if rows is None else rows)

            def function(example):
                key = tf.strings.format("{}/{}", (example["dialogue_id"], example["utterance_id"]))
                return self(example, table.lookup(key))

        else:
            function = self
        data = split.map(function, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        data = data.cache(cache)
        total = int(data.cardinality()) if data.cardinality() >= 0 else None
        count = 0
        bar = tqdm(data, total=total, desc=f"Preprocessing {name}".strip(), unit=" examples",
                   disable=None)  # No bar when stderr is not a terminal.  # fmt: skip
        for _ in bar:
            count += 1  # Fills the cache.
        if count == 0:
            raise ValueError(f"The {name or 'given'} split holds no examples.")
        return data.apply(tf.data.experimental.assert_cardinality(count))

    def batches(self, data, training=False, epoch=None):
        """Batches of a ``preprocess``-ed split: ``(inputs, labels[, sample_weights])``.

        Training batches are shuffled in an order drawn for the config's seed and the
        ``epoch`` variable (`epoch_shuffle`: a new order each epoch, the same orders every
        run, resumed or not) and carry sample weights when class weights are set or the
        model has auxiliary heads (`sample_weights`).
        With ``bucket_by_length`` every batch's text padding is trimmed to its longest
        text (``finalize``), and training batches hold texts of similar length
        (`length_grouped_batches`), so trimming saves the most; evaluation batches keep
        the split's order.
        """
        config = self.config
        if training:
            data = epoch_shuffle(data, config.shuffle_buffer, config.seed, epoch)
        if training and config.bucket_by_length and "text" in self.model_config.modalities:
            data = length_grouped_batches(data, config.batch_size, config.seed, epoch)
        else:
            data = data.batch(config.batch_size)
        if training and (self.class_weights is not None or self.auxiliary_heads):
            data = data.map(lambda x, y: (x, y, self.sample_weights(x, y)))
        data = data.map(self.finalize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return data.prefetch(tf.data.AUTOTUNE)

    # Saving.

    def save(self, directory):
        """Writes the tokenizer and the preprocessing state to ``directory``."""
        os.makedirs(directory, exist_ok=True)
        self.tokenizer.save(os.path.join(directory, TOKENIZER_DIR))
        state = {"media": self.media, "class_weights": self.class_weights}
        with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as file:
            json.dump(state, file, indent=2)

    @classmethod
    def load(cls, directory, config):
        """Restores a preprocessor written by ``save`` for the run config ``config``."""
        path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {CONFIG_FILE} in {directory}: not a saved preprocessor.")
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
        tokenizer = TextTokenizer.load(os.path.join(directory, TOKENIZER_DIR))
        return cls(config, tokenizer, state["media"], state["class_weights"])
