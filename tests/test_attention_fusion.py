import numpy as np
import pytest
import tensorflow as tf
from helpers import run_layer_test

from meld_tf.models import AttentionFusion


def _latents(batch=3, dim=4, num=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, dim)).astype("float32") for _ in range(num)]


def test_layer():
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1]], "float32")
    run_layer_test(
        AttentionFusion,
        {"units": 4},
        [_latents(), mask],
        expected_output_shape=[(3, 4), (3, 3)],
    )


def test_weights_are_a_masked_softmax():
    mask = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 1]], "float32")
    _, weights = AttentionFusion(units=4)([_latents(), mask])
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(weights[mask == 0] == 0.0)
    assert np.all(weights[mask == 1] > 0.0)
    np.testing.assert_allclose(weights[2], [0.0, 0.0, 1.0])


def test_masked_modality_is_ignored():
    fusion = AttentionFusion(units=4)
    mask = np.array([[1, 0, 1]] * 3, "float32")
    latents = _latents()
    fused, weights = fusion([latents, mask])
    changed = list(latents)
    changed[1] = changed[1] * 1000.0 + 7.0
    fused_changed, weights_changed = fusion([changed, mask])
    np.testing.assert_array_equal(np.asarray(fused), np.asarray(fused_changed))
    np.testing.assert_array_equal(np.asarray(weights), np.asarray(weights_changed))


def test_all_absent_gives_zeros():
    fused, weights = AttentionFusion(units=4)([_latents(), np.zeros((3, 3), "float32")])
    assert np.all(np.asarray(fused) == 0.0)
    assert np.all(np.asarray(weights) == 0.0)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_all_absent_gives_exact_zeros_in_every_precision(policy):
    """Zeros, not NaN, for an all-absent example, and the float32 weights elsewhere."""
    mask = np.array([[0, 0, 0], [1, 0, 1], [1, 1, 1]], "float32")
    reference = AttentionFusion(units=4)
    reference_fused, reference_weights = reference([_latents(), mask])
    fusion = AttentionFusion(units=4, dtype=policy)
    fusion.build([[(3, 4)] * 3, (3, 3)])
    fusion.set_weights(reference.get_weights())
    with tf.GradientTape() as tape:
        latents = [tf.constant(x) for x in _latents()]
        tape.watch(latents)
        fused, weights = fusion([latents, mask])
        loss = tf.reduce_sum(tf.cast(fused, "float32") ** 2)
    assert weights.dtype == "float32"  # a bfloat16 softmax would sum to 1 +- 0.4%
    np.testing.assert_allclose(np.sum(weights[1:], axis=1), 1.0, atol=1e-6)
    fused, weights = np.asarray(fused, "float32"), np.asarray(weights, "float32")
    assert np.all(fused[0] == 0.0) and np.all(weights[0] == 0.0)
    tolerance = 1e-6 if policy == "float32" else 2e-2
    np.testing.assert_allclose(weights[1:], np.asarray(reference_weights)[1:], atol=tolerance)
    np.testing.assert_allclose(fused, np.asarray(reference_fused), atol=5 * tolerance)
    gradients = tape.gradient(loss, latents + fusion.trainable_weights)
    assert all(np.isfinite(np.asarray(g, "float32")).all() for g in gradients)


def test_one_modality_gets_all_the_weight():
    _, weights = AttentionFusion(units=2)([_latents(num=1), np.ones((3, 1), "float32")])
    np.testing.assert_allclose(np.asarray(weights), 1.0)


@pytest.mark.parametrize("num", [1, 2])
def test_output_shapes(num):
    fused, weights = AttentionFusion(units=2)([_latents(num=num), np.ones((3, num), "float32")])
    assert fused.shape == (3, 4) and weights.shape == (3, num)
