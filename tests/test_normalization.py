"""Encoders trained from scratch normalise the same way in training and inference mode."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import random_inputs, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.labels import EMOTIONS, SENTIMENTS
from meld_tf.models import build_classifier
from meld_tf.models.audio_encoder import INPUT_NORM, adapt_audio_normalization
from meld_tf.models.normalization import reestimate_batch_norm


def _fit(model, inputs, steps, seed=0):
    rng = np.random.default_rng(seed)
    batch = len(next(iter(inputs.values())))
    labels = {"emotion": np.eye(len(EMOTIONS))[rng.integers(0, len(EMOTIONS), batch)],
              "sentiment": np.eye(len(SENTIMENTS))[rng.integers(0, len(SENTIMENTS), batch)]}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    model.fit(inputs, labels, batch_size=8, epochs=steps, verbose=0)
    return labels


def _trained(video_encoder, norm):
    keras.utils.set_random_seed(0)
    config = ModelConfig(**dict(tiny_config_kwargs(), dropout=0.0, num_frames=4, norm=norm),
                         modalities=("audio", "video"), video_encoder=video_encoder,
                         auxiliary_loss=0.0)  # the two heads only (labels below)
    model = build_classifier(config)
    inputs = random_inputs(config, batch=32)
    inputs["audio_features"] = inputs["audio_features"] * 4.0 - 10.0  # log-mel's range
    labels = _fit(model, inputs, steps=5)
    return model, inputs, labels


def _gap(model, inputs):
    trained = model(inputs, training=True)
    inferred = model(inputs, training=False)
    return max(float(np.max(np.abs(np.asarray(inferred[h]) - np.asarray(trained[h]))))
               for h in trained)


@pytest.mark.parametrize("video_encoder", ["conv3d", "resnet18"])
@pytest.mark.parametrize("norm", ["batch", "group"])
def test_inference_mode_scores_as_training_mode_on_training_data(video_encoder, norm):
    """After training on a small set, inference mode gives the training-mode outputs (so the
    same accuracy): batch statistics re-estimated on the training data (here the one batch
    of all of it, so exactly), or group statistics that need none."""
    model, inputs, _ = _trained(video_encoder, norm)
    if norm == "batch":
        assert _gap(model, inputs) > 1e-2  # The unsettled moving averages: the fault.
        data = tf.data.Dataset.from_tensors((inputs, None))
        assert reestimate_batch_norm(model, data, max_batches=10) == 1
    assert _gap(model, inputs) < 1e-5


def test_reestimated_statistics_average_the_batches():
    inputs = keras.Input((3,), name="x")
    encoder = keras.Model({"x": inputs}, keras.layers.BatchNormalization(name="bn")(inputs),
                          name="x_encoder")
    model = keras.Model({"x": inputs}, keras.layers.Dense(1)(encoder({"x": inputs})))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, scale, size=(8, 3)).astype("float32")
               for loc, scale in ((0.0, 1.0), (5.0, 2.0), (-3.0, 0.5))]
    data = [({"x": b},) for b in batches]
    assert reestimate_batch_norm(model, data, max_batches=2) == 2
    norm = encoder.get_layer("bn")
    np.testing.assert_allclose(np.asarray(norm.moving_mean),
                               np.mean([b.mean(0) for b in batches[:2]], axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance),
                               np.mean([b.var(0) for b in batches[:2]], axis=0), rtol=1e-4)
    assert norm.momentum == pytest.approx(0.99)  # Restored.


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_audio_normalization_uses_the_present_examples_statistics(policy):
    """Adapted in float32 under every precision (``--precision auto`` is bf16 on AMX)."""
    config = ModelConfig(**tiny_config_kwargs(), modalities=("audio",))
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = build_classifier(config)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    rng = np.random.default_rng(1)
    features = rng.normal(3.0, 2.0, size=(10, 6, config.audio_feature_dim)).astype("float32")
    mask = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1], "float32")
    features[mask == 0] = -50.0  # absent audio: must not count
    batches = tf.data.Dataset.from_tensor_slices(
        ({"audio_features": features, "audio_mask": mask}, np.zeros(10))
    ).batch(4)
    adapt_audio_normalization(model, batches)
    layer = model.get_layer("audio_encoder").get_layer(INPUT_NORM)
    present = features[mask == 1].reshape(-1, config.audio_feature_dim)
    np.testing.assert_allclose(np.ravel(layer.mean), present.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(np.ravel(layer.variance), present.var(axis=0), rtol=1e-3)


def test_conv3d_bfloat16_with_few_frames_keeps_finite_weights():
    """The bf16 Conv3D gradient is wrong over fewer frames than the kernel depth: the encoder
    never convolves over such a span, so training under mixed_bfloat16 stays finite."""
    policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        config = ModelConfig(**dict(tiny_config_kwargs(), num_frames=4, frame_size=16),
                             modalities=("video",), video_encoder="conv3d")
        model = build_classifier(config)
        _fit(model, random_inputs(config, batch=16), steps=3)
    finally:
        keras.mixed_precision.set_dtype_policy(policy)
    for weight in model.get_layer("video_encoder").weights:
        assert np.isfinite(np.asarray(weight, "float32")).all(), weight.path
    for layer in model.get_layer("video_encoder").layers:
        if isinstance(layer, keras.layers.Conv3D):
            assert layer.kernel.shape[0] <= 4
