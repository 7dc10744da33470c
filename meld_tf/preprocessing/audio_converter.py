"""Audio preprocessing: a clip's waveform -> the audio encoder's log-mel or MFCC frames."""

import keras
import tensorflow as tf

from meld_tf.data.audio_features import compute_audio_features

INT16_SCALE = 32768.0  # int16 full scale: stored samples / this -> [-1, 1]


@keras.saving.register_keras_serializable(package="meld_tf")
class AudioConverter(keras.layers.Layer):
    """Turns one waveform into the audio encoder's feature frames and the audio mask.

    The frames are `meld_tf.data.audio_features.compute_audio_features`': the first
    ``audio_seconds`` (silence-padded), 25 ms windows every 10 ms, log-mel or MFCC.

    Args:
        sample_rate: of the waveform, in Hz (``ModelConfig.sample_rate``).
        audio_seconds: seconds of audio given to the model.
        audio_features: ``"logmel"`` or ``"mfcc"``.
        num_mel_bins: mel bins.
        num_mfcc: MFCCs kept per frame (``"mfcc"`` only).
        **kwargs: ``keras.layers.Layer`` arguments; ``dtype`` is float32 (a float
            waveform is never cast to a mixed precision).

    Call arguments:
        waveform: one clip's samples ``(N,)``: int16 as the dataset stores them, or
            float32 in [-1, 1]; empty for a clip without audio.
        present: scalar bool, or None (True): whether the clip has audio.

    Returns:
        ``{"audio_features": (T, F) float32, "audio_mask": () float32}``.

    Example:
    >>> converter = AudioConverter(audio_seconds=1.0, num_mel_bins=8)
    >>> converter(tf.zeros([16000], tf.int16))["audio_features"].shape
    TensorShape([98, 8])
    """

    def __init__(self, sample_rate=16000, audio_seconds=4.0, audio_features="logmel",
                 num_mel_bins=64, num_mfcc=20, **kwargs):  # fmt: skip
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        # compute_audio_features reads these five attributes (ModelConfig's names).
        self.sample_rate = sample_rate
        self.audio_seconds = audio_seconds
        self.audio_features = audio_features
        self.num_mel_bins = num_mel_bins
        self.num_mfcc = num_mfcc
        self.built = True

    def call(self, waveform, present=None):
        waveform = tf.convert_to_tensor(waveform)
        if waveform.dtype.is_integer:
            waveform = tf.cast(waveform, tf.float32) / INT16_SCALE
        return {
            "audio_features": compute_audio_features(waveform, self),
            "audio_mask": tf.cast(True if present is None else present, tf.float32),
        }

    def get_config(self):
        config = super().get_config()
        config.update({
            "sample_rate": self.sample_rate,
            "audio_seconds": self.audio_seconds,
            "audio_features": self.audio_features,
            "num_mel_bins": self.num_mel_bins,
            "num_mfcc": self.num_mfcc,
        })  # fmt: skip
        return config
