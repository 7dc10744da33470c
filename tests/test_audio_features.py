import math

import numpy as np
import pytest
import tensorflow as tf

from meld_tf.config import ModelConfig
from meld_tf.data.audio_features import MEL_LOWER_HZ, compute_audio_features, num_audio_frames


def _tone(frequency, seconds, sample_rate=16000):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype("float32")


def _mel_bin(frequency, config):
    """The mel filter whose peak is nearest ``frequency`` (HTK mel scale, as tf.signal)."""
    def mel(hz):
        return 1127.0 * math.log1p(hz / 700.0)

    step = (mel(config.sample_rate / 2) - mel(MEL_LOWER_HZ)) / (config.num_mel_bins + 1)
    return round((mel(frequency) - mel(MEL_LOWER_HZ)) / step) - 1


@pytest.mark.parametrize("frequency", [440.0, 1000.0, 3000.0])
def test_tone_peaks_in_its_mel_bin(frequency):
    config = ModelConfig(audio_seconds=1.0)
    features = compute_audio_features(_tone(frequency, 1.0), config).numpy()
    assert features.shape == (num_audio_frames(config), config.num_mel_bins)
    assert np.argmax(features.mean(axis=0)) == _mel_bin(frequency, config)


@pytest.mark.parametrize("seconds", [0.0, 0.3, 4.0, 6.5])
def test_any_length_gives_the_fixed_shape(seconds):
    config = ModelConfig(audio_seconds=4.0)
    features = compute_audio_features(_tone(440.0, seconds), config)
    assert features.shape == (num_audio_frames(config), 64) == (398, 64)
    assert features.dtype == tf.float32
    assert np.all(np.isfinite(features.numpy()))


def test_long_clip_is_cropped_not_resampled():
    config = ModelConfig(audio_seconds=1.0)
    tone = _tone(1000.0, 1.0)
    longer = np.concatenate([tone, np.zeros(16000, "float32")])
    np.testing.assert_allclose(
        compute_audio_features(longer, config), compute_audio_features(tone, config), atol=1e-5
    )


def test_mfcc_shape_and_works_in_tf_data():
    config = ModelConfig(audio_features="mfcc", num_mfcc=13, audio_seconds=0.5)
    dataset = tf.data.Dataset.from_tensor_slices([_tone(440.0, 0.5)] * 2)
    features = next(iter(dataset.map(lambda w: compute_audio_features(w, config))))
    assert features.shape == (num_audio_frames(config), 13) == (48, 13)


def test_bad_waveform_rank():
    with pytest.raises(ValueError, match="1-D"):
        compute_audio_features(np.zeros((2, 100), "float32"), ModelConfig())
