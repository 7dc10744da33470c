"""A run interrupted after an epoch and resumed ends as the same run uninterrupted."""

import json
import os

import keras
import numpy as np
import pytest

from meld_tf import callbacks, run_folder, train, trainer

FLAGS = [
    "--dataset", "sample", "--modalities", "text", "--text-encoder", "bilstm",
    "--text-max-length", "16", "--latent-dim", "8", "--hidden-dim", "8", "--dropout", "0.3",
    "--batch-size", "16", "--lr", "0.03", "--epochs", "5", "--patience", "3",
    "--lr-patience", "0", "--lr-factor", "0.5", "--max-examples", "96", "--warmup-steps", "4",
]  # fmt: skip


class Interrupt(keras.callbacks.Callback):
    """Stops the process (as Ctrl-C would) at the end of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def config_of(data_dir, out, *flags):
    argv = [*FLAGS, *flags, "--data-dir", str(data_dir), "--out", str(out)]
    return train.config_from_args(train.build_parser().parse_args(argv))


def results(run_dir):
    """``(history rows without timing, metrics.json, model weights)`` of a finished run."""
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    return run_folder.read_history(run_dir), metrics, model.get_weights()


def max_difference(one, two):
    """The largest absolute difference between two equal structures of numbers."""
    if isinstance(one, dict):
        assert one.keys() == two.keys()
        return max((max_difference(one[k], two[k]) for k in one), default=0.0)
    if isinstance(one, (list, tuple)):
        assert len(one) == len(two)
        return max((max_difference(a, b) for a, b in zip(one, two)), default=0.0)
    if isinstance(one, str):
        try:
            one, two = float(one), float(two)
        except ValueError:
            assert one == two
            return 0.0
    return float(np.max(np.abs(np.asarray(one, np.float64) - np.asarray(two, np.float64))))


@pytest.mark.parametrize(
    "bucket", [False, pytest.param(True, marks=pytest.mark.large)], ids=["padded", "bucketed"]
)
def test_resumed_run_equals_the_uninterrupted_run(sample_data_dir, tmp_path, bucket):
    flags = ["--bucket-by-length"] if bucket else []
    whole = trainer.train(config_of(sample_data_dir, tmp_path / "whole", *flags), verbose=False)
    config = config_of(sample_data_dir, tmp_path / "resumed", *flags)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, callbacks=[Interrupt(1)], verbose=False)
    assert len(run_folder.read_history(tmp_path / "resumed")) == 2
    resumed = trainer.train(config, verbose=False)

    (history, metrics, weights), (history2, metrics2, weights2) = results(whole), results(resumed)
    # The steering callbacks acted after the interruption: their state had to be kept.
    rates = [float(row["learning_rate"]) for row in history]
    assert min(rates[2:]) < rates[0] or len(history) < 5, rates
    assert [row["epoch"] for row in history2] == [row["epoch"] for row in history]
    differences = [max_difference(*pair) for pair in
                   ((history, history2), (metrics, metrics2), (weights, weights2))]  # fmt: skip
    print("largest differences (history, metrics, weights):", differences)
    assert max(differences) < 1e-5, differences


def test_training_state_restores_the_steering_callbacks(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5, seed=1)])
    stop = keras.callbacks.EarlyStopping(patience=3)
    reduce = keras.callbacks.ReduceLROnPlateau(patience=2)
    state = callbacks.TrainingState(str(tmp_path / "state.json"), [stop, reduce])
    state.set_model(model)
    for callback in (stop, reduce, state):
        callback.set_model(model)
        callback.on_train_begin()
    stop.wait, stop.best, reduce.wait, reduce.best, reduce.cooldown_counter = 2, 0.5, 1, 0.4, 1
    model(np.ones((4, 2)), training=True)  # Advances the dropout's random state.
    seeds = [np.array(v) for v in state._seed_states()]
    state.on_epoch_end(3)
    for callback in (stop, reduce, state):
        callback.on_train_begin()  # What a restarted run does.
    model(np.ones((4, 2)), training=True)
    state.on_epoch_begin(4)
    assert (stop.wait, stop.best, reduce.wait, reduce.best) == (2, 0.5, 1, 0.4)
    assert reduce.cooldown_counter == 1
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(seeds, state._seed_states()))
