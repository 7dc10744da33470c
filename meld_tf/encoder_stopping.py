"""Early stopping per encoder: each encoder of a multimodal model stops at its own best epoch.

The encoders of a fused model do not learn at one pace. On the sample, the text encoder's own
emotion head (``"text_emotion"``, `meld_tf.models.classifier.auxiliary_emotion`) is best on
validation at epoch 3 and fits the training set after, while the video encoder's is best at
epoch 9; a run that keeps one epoch for all keeps an over-fitted text encoder or an
unfinished video one. `EncoderEarlyStopping` watches the validation loss of each auxiliary
head; when an encoder has not improved for ``patience`` epochs, its weights (with its head's)
go back to those of its best epoch and stop changing (`PartwiseAdamW.freeze`), while the
other encoders, the fusion and the heads train on. While any encoder still improves, the
run's ``EarlyStopping`` waits.

The best weights are kept in the run's backup folder and the counters in
`meld_tf.callbacks.TrainingState`, so a resumed run continues exactly.
"""

import math
import os

import keras
import numpy as np


class EncoderEarlyStopping(keras.callbacks.Callback):
    """Freezes each encoder at its best epoch by its auxiliary head's validation loss.

    Args:
        modalities: the model's modalities (its encoders are ``"<modality>_encoder"``, its
            auxiliary heads ``"<modality>_emotion"``).
        patience: epochs without a lower ``val_<modality>_emotion_loss`` before the encoder
            returns to its best weights and is frozen.
        folder: where each encoder's best weights are kept for a resumed run
            (``<modality>.npz``); None: in memory only (a tuner trial).
        early_stopping: the run's ``keras.callbacks.EarlyStopping`` (or None): its wait
            starts again on every epoch in which an unfrozen encoder improved. Put this
            callback before it.
    """

    def __init__(self, modalities, patience, folder, early_stopping=None):
        super().__init__()
        self.modalities = tuple(modalities)
        self.patience = patience
        self.folder = folder
        self.early_stopping = early_stopping
        self.best = {m: math.inf for m in self.modalities}
        self.best_epoch = {m: -1 for m in self.modalities}
        self.wait = {m: 0 for m in self.modalities}
        self.frozen = []
        self._saved = {}

    def _variables(self, modality):
        """The weights of the encoder and its auxiliary head (moving statistics too)."""
        return [*self.model.get_layer(f"{modality}_encoder").weights,
                *self.model.get_layer(f"{modality}_emotion").weights]  # fmt: skip

    def _path(self, modality):
        return os.path.join(self.folder, f"{modality}.npz")

    def _save(self, modality):
        values = [keras.ops.convert_to_numpy(v) for v in self._variables(modality)]
        self._saved[modality] = values
        if self.folder:
            os.makedirs(self.folder, exist_ok=True)
            with open(self._path(modality) + ".tmp", "wb") as file:
                np.savez(file, *values)
            os.replace(self._path(modality) + ".tmp", self._path(modality))

    def _restore_and_freeze(self, modality):
        values = self._saved.get(modality)
        if values is None:  # A resumed run: the best weights are on disk.
            with np.load(self._path(modality)) as saved:
                values = [saved[name] for name in saved.files]
        for variable, value in zip(self._variables(modality), values, strict=True):
            variable.assign(value)
        trainable = {id(v) for v in self.model.trainable_variables}
        self.model.optimizer.freeze(
            [v for v in self._variables(modality) if id(v) in trainable])
        self.frozen.append(modality)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        improved = False
        for modality in self.modalities:
            key = f"val_{modality}_emotion_loss"
            if modality in self.frozen or key not in logs:
                continue
            loss = float(logs[key])
            if loss < self.best[modality]:
                self.best[modality], self.best_epoch[modality] = loss, epoch
                self.wait[modality] = 0
                self._save(modality)
                improved = True
                continue
            self.wait[modality] += 1
            if self.wait[modality] >= self.patience:
                self._restore_and_freeze(modality)
                print(f"Epoch {epoch + 1}: the {modality} encoder has not improved for "
                      f"{self.patience} epochs ({key} best {self.best[modality]:.4f} at epoch "
                      f"{self.best_epoch[modality] + 1}); back to that epoch's weights, "
                      "frozen.", flush=True)  # fmt: skip
        if improved and self.early_stopping is not None:
            self.early_stopping.wait = 0
