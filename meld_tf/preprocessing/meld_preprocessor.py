"""The per-example preprocessor: a MELD example -> model inputs (and its labels).

``MeldPreprocessor`` is the one place that turns a dataset example (the TFDS features of
ARCHITECTURE.md) into the model's inputs. Training, ``evaluate`` and ``predict`` (through
`meld_tf.serving`) all use it, restored from the run folder, so the exact same inputs are
built everywhere. Per example (a ``tf.data`` map, run once: the result is cached):

* text: `TextPreprocessor` (the utterance as ``text_template`` reads, and with
  ``context`` or ``future_context`` the dialogue's other turns as the second segment);
  ``text_mask`` 1.0 (``has_text`` if given).
* audio: `AudioConverter` (int16 -> log-mel / MFCC frames); ``audio_mask`` = ``has_audio``.
* video: `VideoConverter` on ``config.model.video_source`` (``face_frames`` or ``frames``):
  ``num_frames`` picked evenly, resized to ``frame_size``, uint8 until a batch is made
  (`meld_tf.batching`); ``video_mask`` = ``has_video``.
* labels (``labels_of``, the one place they are made): one-hot ``emotion`` (7) and
  ``sentiment`` (3), so label smoothing works; an example without them gives inputs only.
"""

import json
import os

import keras
import tensorflow as tf
from tqdm import tqdm

from meld_tf.labels import EMOTIONS, SENTIMENTS
from meld_tf.models import TextTokenizer
from meld_tf.preprocessing.audio_converter import AudioConverter
from meld_tf.preprocessing.text_preprocessor import (
    TextPreprocessor,
    context_lookup,
    split_metadata,
)
from meld_tf.preprocessing.video_converter import VideoConverter

CONFIG_FILE = "preprocessor.json"
TOKENIZER_DIR = "tokenizer"
SAMPLE_RATE = 16000  # of the dataset's stored audio (ARCHITECTURE.md)


def media_of(split):
    """The stored media geometry of a split (``None`` for a text-only dataset)."""
    spec = split.element_spec
    if "frames" not in spec:
        return None
    num_frames, frame_size = spec["frames"].shape[0], spec["frames"].shape[1]
    return {"num_frames": num_frames, "frame_size": frame_size, "sample_rate": SAMPLE_RATE}


def labels_of(example):
    """One-hot labels of an example: ``{"emotion": (7,), "sentiment": (3,)}`` float32."""
    return {
        "emotion": tf.one_hot(tf.cast(example["emotion"], tf.int32), len(EMOTIONS)),
        "sentiment": tf.one_hot(tf.cast(example["sentiment"], tf.int32), len(SENTIMENTS)),
    }


class MeldPreprocessor:
    """Maps MELD examples to model inputs, and labels where the example has them.

    Args:
        config: the run's ``TrainConfig``.
        tokenizer: the ``TextTokenizer`` of ``config.model`` (adapted, for bilstm).
        media: ``{"num_frames", "frame_size", "sample_rate"}`` of the dataset's stored
            media (what ``predict`` must decode a clip to), or None for a text dataset.
        class_weights: per-emotion weights of the emotion loss, or None; kept here so
            that the run folder records them (`meld_tf.batching.batches` applies them).

    Attributes:
        text, audio, video: the layers of the run's modalities (`TextPreprocessor`,
            `AudioConverter`, `VideoConverter`), None for the others.

    Call arguments:
        example: a dict of one example's features (tensors).
        context: optional scalar string tensor, the dialogue context of the example.

    Returns:
        ``(inputs, labels)`` for an example with ``emotion`` and ``sentiment`` (see
        ``labels_of``), else ``inputs``: the model's input dict for
        ``config.model.modalities`` (video uint8 until `meld_tf.batching.finish_inputs`).

    Example (see ``tests/test_meld_preprocessor.py``):
        preprocessor = MeldPreprocessor.from_config(config, media_of(splits["train"]))
        preprocessor.adapt(train_texts)
        train = batches(preprocessor.preprocess(splits["train"]), config, training=True)
    """

    def __init__(self, config, tokenizer, media=None, class_weights=None):
        self.config = config
        self.model_config = model = config.model
        self.tokenizer = tokenizer
        self.media = dict(media) if media else None
        self.class_weights = None if class_weights is None else list(map(float, class_weights))
        missing = [m for m in ("audio", "video") if m in model.modalities and not media]
        if missing:
            raise ValueError(
                f"Modalities {missing} need clips, but this dataset holds text only; "
                "use --dataset full or sample, or --modalities text."
            )
        modalities = model.modalities
        self.text = None
        if "text" in modalities:
            turns = config.context + config.future_context
            self.text = TextPreprocessor(tokenizer, turns, config.text_template)
        self.audio = self.video = None
        if "audio" in modalities:
            self.audio = AudioConverter(
                model.sample_rate, model.audio_seconds, model.audio_features,
                model.num_mel_bins, model.num_mfcc,
            )  # fmt: skip
        if "video" in modalities:
            self.video = VideoConverter(model.num_frames, model.frame_size)

    @classmethod
    def from_config(cls, config, media=None):
        """A new preprocessor for ``config``; call ``adapt`` before use for bilstm."""
        return cls(config, TextTokenizer.from_config(config.model), media)

    def adapt(self, texts):
        """Fits what is learnt from training texts (the bilstm vocabulary)."""
        self.tokenizer.adapt(texts)

    # Per example.

    def __call__(self, example, context=None):
        labels = labels_of(example) if "emotion" in example else None
        return keras.utils.pack_x_y_sample_weight(self.inputs(example, context), labels)

    def inputs(self, example, context=None):
        """The model inputs of one example (no labels needed)."""
        inputs = {}
        if self.text is not None:
            # Dataset examples always have text; a clip to predict may have none.
            inputs.update(self.text(example["text"], context, example.get("speaker"),
                                    present=example.get("has_text")))  # fmt: skip
        if self.audio is not None:
            inputs.update(self.audio(example["audio"], present=example["has_audio"]))
        if self.video is not None:
            source = example[self.model_config.video_source]
            inputs.update(self.video(source, present=example["has_video"]))
        return inputs

    # Whole splits.

    def preprocess(self, split, name="", rows=None, cache=""):
        """The cached, unbatched ``(inputs, labels)`` of a split of examples.

        Tokens, audio features and frames are computed here once, with a progress bar,
        and cached (in memory, or in files with the prefix ``cache``); every epoch then
        reads the cache. ``rows`` (``split_metadata``) is needed only with context.
        """
        if self.config.dialogue_context:
            lookup = context_lookup(
                split_metadata(split) if rows is None else rows,
                self.config.context, self.config.future_context,
            )  # fmt: skip

            def function(example):
                return self(example, lookup(example))

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
