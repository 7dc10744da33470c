"""The callbacks of a training run, made so that a resumed run is the uninterrupted run.

An interrupted run resumes at its next epoch (``BackupAndRestore``: weights, optimizer,
learning rate). Two more things decide what the next epochs do, and are kept here:

* the training order: the batches of epoch ``e`` are drawn for ``(seed, e)``
  (`meld_tf.batching.epoch_shuffle`); `DataOrder` tells the dataset which epoch
  starts;
* the state of the callbacks that steer training (the counters and best values of
  ``EarlyStopping`` and ``ReduceLROnPlateau``, ``ModelCheckpoint``'s best) and the
  model's random-number states (dropout): `TrainingState` writes them to the backup at
  the end of every epoch and restores them when a run resumes.
"""

import json
import math
import os

import keras
import numpy as np

from meld_tf.encoder_stopping import EncoderEarlyStopping
from meld_tf.models.normalization import reestimate_batch_norm
from meld_tf.run_folder import BACKUP_DIR, BEST_WEIGHTS_FILE, HISTORY_FILE, LOGS_DIR, STATE_FILE
from meld_tf.train_config import MONITORS

# What each steering callback needs to continue where it stopped.
STATE_ATTRIBUTES = {
    keras.callbacks.ModelCheckpoint: ("best",),
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
    EncoderEarlyStopping: ("best", "best_epoch", "wait", "frozen"),
}


class DataOrder(keras.callbacks.Callback):
    """At every epoch's start, sets the epoch the training batches are drawn for.

    Args:
        epoch: the int64 ``tf.Variable`` the training dataset reads when it is iterated
            (``meld_tf.batching.batches(..., epoch=...)``).
    """

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)


class BatchNormStatistics(keras.callbacks.Callback):
    """Before every validation, re-estimates the BatchNormalization statistics of the
    model's encoders from training batches and the current weights
    (`meld_tf.models.normalization.reestimate_batch_norm`), so validation, the checkpoint
    of the epoch and the saved model normalise as training did.

    Args:
        batches: the training batches (any order; the first ``max_batches`` are used).
        max_batches: how many batches to average (``TrainConfig.norm_batches``).
    """

    def __init__(self, batches, max_batches):
        super().__init__()
        self.batches = batches
        self.max_batches = max_batches

    def on_test_begin(self, logs=None):
        reestimate_batch_norm(self.model, self.batches, self.max_batches)


class NonFiniteError(RuntimeError):
    """Training produced NaN or Inf; nothing of the failing epoch was saved."""


class FiniteGuard(keras.callbacks.Callback):
    """Stops training with `NonFiniteError` at the first NaN or Inf loss (every batch) or
    weight (every epoch's end).

    It comes first among the callbacks, so a failing epoch's checkpoint, logs and backup are
    never written: the run folder keeps its last good epoch and no broken model is saved.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(f"the training loss became {float(loss)} at batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        broken = [
            w.path for w in self.model.weights
            if not np.isfinite(keras.ops.convert_to_numpy(w).astype("float32")).all()
        ]
        if broken:
            shown = ", ".join(broken[:3]) + (", ..." if len(broken) > 3 else "")
            self._stop(f"{len(broken)} weights hold NaN or Inf ({shown})")

    def _stop(self, what):
        raise NonFiniteError(
            f"Training stopped in epoch {self._epoch + 1}: {what}. Nothing of this epoch was "
            "saved. Lower the learning rate (--lr), or train in float32 (--precision fp32)."
        )


def _plain(value):
    """A JSON-ready copy of a callback attribute (NumPy scalars become Python numbers)."""
    return value.item() if hasattr(value, "item") else value


class TrainingState(keras.callbacks.Callback):
    """Keeps the steering callbacks' state and the model's random-number states per epoch.

    At the end of epoch ``e`` it adds ``{"callbacks": [...], "seeds": [...]}`` under
    ``"e"`` to ``path``; when training starts at epoch ``e > 0`` (a resumed run) it
    restores the state saved at the end of epoch ``e - 1``. Put it after the callbacks it
    keeps (their ``on_train_begin`` resets them) and before ``BackupAndRestore`` (so that
    the backup never runs ahead of the state).

    Args:
        path: the JSON file (in the run's backup folder).
        callbacks: the callbacks to keep, of the classes of ``STATE_ATTRIBUTES``.
    """

    def __init__(self, path, callbacks):
        super().__init__()
        self.path = path
        self.callbacks = list(callbacks)
        self._started = False

    def _seed_states(self):
        """The model's random-number generator states (not among its weights)."""
        weights = {id(weight) for weight in self.model.weights}
        return [v for v in self.model.variables if id(v) not in weights]

    def _read(self):
        if not os.path.isfile(self.path):
            return {}
        with open(self.path, encoding="utf-8") as file:
            return json.load(file)

    def on_train_begin(self, logs=None):
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        saved = self._read().get(str(epoch - 1))
        if saved is None:
            return
        for callback, values in zip(self.callbacks, saved["callbacks"], strict=True):
            for name, value in values.items():
                setattr(callback, name, value)
        for variable, value in zip(self._seed_states(), saved["seeds"], strict=True):
            variable.assign(keras.ops.convert_to_tensor(value, dtype=variable.dtype))

    def on_epoch_end(self, epoch, logs=None):
        state = self._read()
        state[str(epoch)] = {
            "callbacks": [
                {name: _plain(getattr(callback, name)) for name in STATE_ATTRIBUTES[type(callback)]}
                for callback in self.callbacks
            ],
            "seeds": [keras.ops.convert_to_numpy(v).tolist() for v in self._seed_states()],
        }
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(state, file)
        os.replace(self.path + ".tmp", self.path)  # Never half written.


def make_callbacks(config, run_dir, epoch=None, train_data=None):
    """The callbacks of a run, in order.

    * `FiniteGuard`: NaN or Inf stops the run before anything of its epoch is written.
    * `DataOrder` (when ``epoch``, the training dataset's epoch variable, is given).
    * `BatchNormStatistics` (when ``train_data``, the training batches, is given).
    * ``ModelCheckpoint`` of the best weights by ``config.monitor`` (``best.weights.h5``);
      ``train`` loads them at the end.
    * `EncoderEarlyStopping` (with ``config.encoder_patience`` and auxiliary heads): each
      encoder frozen at its own best epoch;
    * ``EarlyStopping`` and ``ReduceLROnPlateau`` on ``config.monitor``.
    * ``CSVLogger`` (``history.csv``, appended on resume) and ``TensorBoard`` (``logs/``).
    * `TrainingState` and ``BackupAndRestore`` (``backup/``): an interrupted run resumes
      at its next epoch, exactly as if it had not stopped.
    """
    monitor = {"monitor": config.monitor, "mode": MONITORS[config.monitor]}
    checkpoint = keras.callbacks.ModelCheckpoint(
        os.path.join(run_dir, BEST_WEIGHTS_FILE),
        save_best_only=True,
        save_weights_only=True,
        **monitor,
    )
    early_stopping = keras.callbacks.EarlyStopping(
        patience=config.early_stopping_patience, verbose=1, **monitor
    )
    backup = os.path.join(run_dir, BACKUP_DIR)
    encoders = []
    if config.encoder_patience and config.model.auxiliary_heads:
        encoders = [EncoderEarlyStopping(
            config.model.modalities, config.encoder_patience, os.path.join(backup, "encoders"),
            early_stopping,
        )]  # fmt: skip
    steering = [
        checkpoint,
        *encoders,
        early_stopping,
        keras.callbacks.ReduceLROnPlateau(
            **monitor,
            factor=config.lr_factor,
            patience=config.lr_patience,
            min_lr=config.min_learning_rate,
            verbose=1,
        ),
    ]
    return [
        FiniteGuard(),
        *([DataOrder(epoch)] if epoch is not None else []),
        *([BatchNormStatistics(train_data, config.norm_batches)] if train_data is not None else []),
        *steering,
        keras.callbacks.CSVLogger(os.path.join(run_dir, HISTORY_FILE), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, LOGS_DIR)),
        TrainingState(os.path.join(backup, STATE_FILE), steering),
        keras.callbacks.BackupAndRestore(backup),
    ]

