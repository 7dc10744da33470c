"""Preprocessing: a MELD example (or a raw input to predict) -> the model's inputs.

One Keras layer per modality, each with its own ``get_config``, as KerasHub's
preprocessing layers: `TextPreprocessor` (tokenizer + dialogue context packing),
`AudioConverter` (waveform -> log-mel / MFCC frames), `VideoConverter` (frames -> the
model's frames). `MeldPreprocessor` applies them to a dataset example, adds its labels
when it has them, and saves what a run folder keeps. Batching is `meld_tf.batching`'s.
"""

from meld_tf.preprocessing.audio_converter import AudioConverter
from meld_tf.preprocessing.meld_preprocessor import MeldPreprocessor, labels_of, media_of
from meld_tf.preprocessing.text_preprocessor import (
    TextPreprocessor,
    context_key,
    dialogue_contexts,
    split_metadata,
)
from meld_tf.preprocessing.video_converter import VideoConverter, sample_frames

__all__ = [
    "AudioConverter",
    "MeldPreprocessor",
    "TextPreprocessor",
    "VideoConverter",
    "context_key",
    "dialogue_contexts",
    "labels_of",
    "media_of",
    "sample_frames",
    "split_metadata",
]
