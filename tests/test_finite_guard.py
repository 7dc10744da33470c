"""NaN or Inf stops training with a clear error before anything of the epoch is saved."""

import keras
import numpy as np
import pytest

from meld_tf.callbacks import FiniteGuard, NonFiniteError, make_callbacks
from meld_tf.train_config import TrainConfig


def _model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_nan_loss_stops_before_the_checkpoint(tmp_path):
    x = np.ones((8, 3), "float32")
    x[5] = np.nan  # the second batch of 4 turns the loss into NaN
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"),
                                                 save_weights_only=True)
    with pytest.raises(NonFiniteError, match=r"epoch 1: the training loss became nan"):
        _model().fit(x, np.zeros((8, 2)), batch_size=4, epochs=2, verbose=0,
                     callbacks=[FiniteGuard(), checkpoint])
    assert not (tmp_path / "w.weights.h5").exists()


def test_non_finite_weights_stop_at_the_epoch_end():
    model = _model()

    class Poison(keras.callbacks.Callback):  # a weight breaks without the loss showing it
        def on_train_batch_end(self, batch, logs=None):
            kernel = model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.inf, "float32"))

    with pytest.raises(NonFiniteError, match=r"weights hold NaN or Inf \(.*kernel"):
        model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0,
                  callbacks=[Poison(), FiniteGuard()])


def test_a_run_checks_first(tmp_path):
    callbacks = make_callbacks(TrainConfig(), str(tmp_path))
    assert isinstance(callbacks[0], FiniteGuard)
