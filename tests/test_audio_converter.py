"""AudioConverter: a waveform (int16 as stored, or float) -> feature frames and mask."""

import numpy as np
import tensorflow as tf
from helpers import run_layer_test

from meld_tf.config import ModelConfig
from meld_tf.data.audio_features import compute_audio_features
from meld_tf.preprocessing import AudioConverter

SETTINGS = {"sample_rate": 16000, "audio_seconds": 0.5, "audio_features": "mfcc",
            "num_mel_bins": 8, "num_mfcc": 4}  # fmt: skip


def waveform():
    return (3000 * np.sin(np.arange(6000) / 7)).astype(np.int16)


def test_layer_and_config_round_trip():
    outputs = run_layer_test(
        AudioConverter, SETTINGS, tf.constant(waveform()),
        expected_output_shape=[(48, 4), ()],  # 0.5 s: 48 frames of 4 MFCCs; the mask
        call_kwargs={"present": tf.constant(False)}, expect_trainable=False,
    )  # fmt: skip
    assert float(outputs["audio_mask"]) == 0.0


def test_int16_is_scaled_to_the_features_of_the_float_waveform():
    converter = AudioConverter(**SETTINGS)
    stored = converter(tf.constant(waveform()))
    scaled = converter(tf.constant(waveform().astype(np.float32) / 32768.0))
    expected = compute_audio_features(waveform().astype(np.float32) / 32768.0,
                                      ModelConfig(**SETTINGS))  # fmt: skip
    np.testing.assert_array_equal(stored["audio_features"], expected)
    np.testing.assert_array_equal(scaled["audio_features"], expected)
    assert float(stored["audio_mask"]) == 1.0


def test_a_mixed_precision_policy_leaves_the_features_float32():
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        converter = AudioConverter(**SETTINGS)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    features = converter(tf.constant(waveform().astype(np.float32) / 32768.0))["audio_features"]
    assert features.dtype == tf.float32
    np.testing.assert_array_equal(features, AudioConverter(**SETTINGS)(
        tf.constant(waveform()))["audio_features"])  # fmt: skip
