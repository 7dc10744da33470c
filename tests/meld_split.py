"""A small in-memory MELD split with the dataset's features, and the preprocessor and
batches of a tiny config: shared by the preprocessing and batching tests."""

import numpy as np
import tensorflow as tf

from meld_tf.batching import batches
from meld_tf.config import ModelConfig
from meld_tf.preprocessing import MeldPreprocessor, media_of, split_metadata
from meld_tf.train_config import TrainConfig

STORED_FRAMES, STORED_SIZE = 4, 16
ROWS = [  # dialogue, utterance, speaker, text, emotion, sentiment, has_audio, has_video
    (0, 0, "Ross", "hi there", 4, 1, True, True),
    (0, 1, "Rachel", "oh my god", 6, 2, True, False),
    (1, 0, "Joey", "how you doing", 3, 2, False, True),
    (0, 2, "Monica", "stop it", 0, 0, True, True),
]


def make_split(rows=ROWS):
    """A tf.data split of examples with the features of ARCHITECTURE.md."""

    def examples():
        for d, u, speaker, text, emotion, sentiment, has_audio, has_video in rows:
            frames = np.full((STORED_FRAMES, STORED_SIZE, STORED_SIZE, 3), 10 * (u + 1), np.uint8)
            frames[:, :, :, 0] = np.arange(STORED_FRAMES)[:, None, None] * 50
            yield {
                "dialogue_id": d,
                "utterance_id": u,
                "speaker": speaker,
                "text": text,
                "emotion": emotion,
                "sentiment": sentiment,
                "audio": np.full(1600 * (u + 1) if has_audio else 0, 1000, np.int16),
                "frames": frames if has_video else np.zeros_like(frames),
                "face_frames": 255 - frames if has_video else np.zeros_like(frames),
                "has_audio": has_audio,
                "has_video": has_video,
            }

    video = tf.TensorSpec((STORED_FRAMES, STORED_SIZE, STORED_SIZE, 3), tf.uint8)
    signature = {
        "dialogue_id": tf.TensorSpec((), tf.int32),
        "utterance_id": tf.TensorSpec((), tf.int32),
        "speaker": tf.TensorSpec((), tf.string),
        "text": tf.TensorSpec((), tf.string),
        "emotion": tf.TensorSpec((), tf.int64),
        "sentiment": tf.TensorSpec((), tf.int64),
        "audio": tf.TensorSpec((None,), tf.int16),
        "frames": video,
        "face_frames": video,
        "has_audio": tf.TensorSpec((), tf.bool),
        "has_video": tf.TensorSpec((), tf.bool),
    }
    return tf.data.Dataset.from_generator(examples, output_signature=signature)


def make_config(**changes):
    model = ModelConfig(
        modalities=("text", "audio", "video"),
        text_encoder="bilstm",
        text_max_length=12,
        text_vocab_size=50,
        audio_seconds=0.5,
        num_mel_bins=8,
        num_frames=2,
        frame_size=8,
    )
    changes = {"bucket_by_length": False, **changes}  # fixed widths unless a test asks
    return TrainConfig(model=model, batch_size=3, **changes)


def make_preprocessor(config, split):
    preprocessor = MeldPreprocessor.from_config(config, media_of(split))
    preprocessor.adapt([text for _, _, _, text in split_metadata(split)])
    return preprocessor


def first_batch(config, training=False):
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    data = batches(preprocessor.preprocess(split), config, preprocessor.class_weights,
                   training=training)  # fmt: skip
    return next(iter(data)), preprocessor
