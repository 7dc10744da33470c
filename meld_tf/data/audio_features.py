"""Audio features for the audio encoder: log-mel or MFCC frames, with tf.signal.

Computed once in the input pipeline (a tf.data map), never inside the model. The frame
geometry is the usual one for speech: 25 ms windows every 10 ms (Hann window), FFT
length the next power of two; mel filters span 20 Hz to the Nyquist frequency.
"""

import math

import tensorflow as tf

WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
MEL_LOWER_HZ = 20.0
LOG_OFFSET = 1e-6


def _frame_geometry(config):
    frame_length = int(round(WINDOW_SECONDS * config.sample_rate))
    frame_step = int(round(HOP_SECONDS * config.sample_rate))
    fft_length = 2 ** math.ceil(math.log2(frame_length))
    return frame_length, frame_step, fft_length


def num_audio_samples(config):
    """Samples given to the feature extractor: ``audio_seconds * sample_rate``."""
    return int(round(config.audio_seconds * config.sample_rate))


def num_audio_frames(config):
    """Frames T of ``compute_audio_features``'s output ``(T, F)``."""
    frame_length, frame_step, _ = _frame_geometry(config)
    return 1 + (num_audio_samples(config) - frame_length) // frame_step


def compute_audio_features(waveform, config):
    """Returns the ``(T, F)`` float32 features of a mono waveform.

    Args:
        waveform: float32 tensor ``(num_samples,)`` in [-1, 1] at ``config.sample_rate``
            (an empty waveform gives silence features).
        config: a ``ModelConfig`` (``sample_rate``, ``audio_seconds``, ``audio_features``,
            ``num_mel_bins``, ``num_mfcc``).

    Returns:
        ``(num_audio_frames(config), config.audio_feature_dim)`` float32: the log-mel
        spectrogram, or its first ``num_mfcc`` MFCCs.

    Example:
    >>> from meld_tf.config import ModelConfig
    >>> config = ModelConfig(audio_seconds=1.0)
    >>> tuple(compute_audio_features(tf.zeros([8000]), config).shape)
    (98, 64)
    """
    waveform = tf.convert_to_tensor(waveform, dtype=tf.float32)
    if waveform.shape.rank != 1:
        raise ValueError(f"waveform must be 1-D (num_samples,), got shape {waveform.shape}.")
    length = num_audio_samples(config)
    waveform = waveform[:length]
    waveform = tf.pad(waveform, [[0, length - tf.shape(waveform)[0]]])
    waveform.set_shape([length])
    frame_length, frame_step, fft_length = _frame_geometry(config)
    stft = tf.signal.stft(waveform, frame_length, frame_step, fft_length, pad_end=False)
    power = tf.square(tf.abs(stft))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config.num_mel_bins,
        num_spectrogram_bins=fft_length // 2 + 1,
        sample_rate=config.sample_rate,
        lower_edge_hertz=MEL_LOWER_HZ,
        upper_edge_hertz=config.sample_rate / 2,
    )
    log_mel = tf.math.log(tf.matmul(power, mel_matrix) + LOG_OFFSET)
    if config.audio_features == "logmel":
        return log_mel
    if config.num_mfcc > config.num_mel_bins:
        raise ValueError(
            f"num_mfcc {config.num_mfcc} exceeds num_mel_bins {config.num_mel_bins}; "
            "lower num_mfcc or raise num_mel_bins."
        )
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[:, : config.num_mfcc]
