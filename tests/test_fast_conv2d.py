import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import run_model_saving_test

from meld_tf.models.fast_conv2d import FastConv2D


def _gradients(layer, x):
    """Output, and the gradients of a non-linear loss w.r.t. the input and the kernel."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.sin(y) * tf.range(1.0, 1.0 + y.shape[-1]))
    dx, dw = tape.gradient(loss, [x, layer.kernel.value])
    return y.numpy(), dx.numpy(), dw.numpy()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3, padding="same"),  # the flipped-kernel gradient
        dict(kernel_size=(5, 3), padding="same"),
        dict(kernel_size=1, padding="same"),
        dict(kernel_size=3, strides=2, padding="same"),  # Keras's own path
        dict(kernel_size=2, padding="same"),
        dict(kernel_size=3, padding="valid"),
    ],
)
def test_same_outputs_and_gradients_as_keras_conv2d(kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 7, 4)).astype("float32")
    reference = keras.layers.Conv2D(5, use_bias=False, **kwargs)
    fast = FastConv2D(5, use_bias=False, **kwargs)
    reference.build(x.shape)
    fast.build(x.shape)
    fast.set_weights(reference.get_weights())
    for got, want in zip(_gradients(fast, x), _gradients(reference, x)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_flipped_gradient_is_used_only_where_it_is_exact():
    assert FastConv2D(4, 3, padding="same")._flip_gradient_applies()
    assert not FastConv2D(4, 3, strides=2, padding="same")._flip_gradient_applies()
    assert not FastConv2D(4, 2, padding="same")._flip_gradient_applies()
    assert not FastConv2D(4, 3, padding="valid")._flip_gradient_applies()


def test_trains_and_round_trips(tmp_path):
    inputs = keras.Input((6, 6, 2))
    outputs = keras.layers.GlobalAveragePooling2D()(FastConv2D(3, 3, padding="same")(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 2)).astype("float32")
    run_model_saving_test(model, x, tmp_path)
