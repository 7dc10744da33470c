"""The KerasTuner search space of meld-tf: ``SearchSpace`` and ``MeldHyperModel``.

``MeldHyperModel.build(hp)`` samples a ``TrainConfig`` from a base config (the training
CLI's flags) and builds and compiles the classifier with the training code's own pieces;
``fit(hp, model, ...)`` trains it on datasets made for the sampled config. Every
hyperparameter defaults to the base config's value, so ``build(HyperParameters())`` is
exactly the model ``python -m meld_tf.train`` builds for the same flags.
"""

import dataclasses
import json
import os

import keras
import keras_tuner

from meld_tf import trainer
from meld_tf.callbacks import BatchNormStatistics, DataOrder, make_callbacks
from meld_tf.config import (
    AUDIO_FEATURES,
    TEXT_POOLINGS,
    VIDEO_TEMPORAL,
    JsonConfig,
    ModelConfig,
    check_field,
)
from meld_tf.encoder_stopping import EncoderEarlyStopping
from meld_tf.models.audio_encoder import adapt_audio_normalization
from meld_tf.train_config import TrainConfig

RANGES = ("learning_rate", "dropout")
"""Fields of ``SearchSpace`` that are ``(min, max)`` ranges; the others are choices."""


@dataclasses.dataclass(frozen=True)
class SearchSpace(JsonConfig):
    """What the search may change. An empty tuple keeps the base config's value.

    Each hyperparameter's default is the base ``TrainConfig``'s value; a base value outside
    the space is added to it (a choice) or widens it (a range), so the baseline is always
    one point of the space.

    Args:
        learning_rate: ``(min, max)`` of the AdamW learning rate, sampled on a log scale.
        hidden_dim: choices of the hidden layer size before the heads.
        latent_dim: choices of every encoder's output size.
        dropout: ``(min, max)`` of the dropout before the heads.
        fusion: choices of the fusion strategy.
        modality_dropout: choices of the modality dropout (tuned with 2+ modalities).
        batch_size: choices of the batch size.
        label_smoothing: choices of the label smoothing.
        text_pooling: choices of the BERT token pooling (tuned for the ``bert`` encoder).
        audio_features: choices of the audio features (tuned when audio is used).
        video_temporal: choices of the video temporal model (tuned when video is used).
    """

    learning_rate: tuple = (1e-5, 1e-3)
    hidden_dim: tuple = (64, 128, 256)
    latent_dim: tuple = (64, 128, 256)
    dropout: tuple = (0.05, 0.3)
    fusion: tuple = ("concat", "late", "attention")
    modality_dropout: tuple = (0.0, 0.1, 0.2)
    batch_size: tuple = (16, 32)
    label_smoothing: tuple = (0.0, 0.1, 0.2)
    text_pooling: tuple = TEXT_POOLINGS
    audio_features: tuple = AUDIO_FEATURES
    video_temporal: tuple = VIDEO_TEMPORAL

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, tuple(getattr(self, field.name)))
        for name in RANGES:
            values = getattr(self, name)
            if values and (len(values) != 2 or not 0 < values[0] <= values[1]):
                raise ValueError(
                    f"SearchSpace.{name} {values} must be a (min, max) range with "
                    "0 < min <= max, or () to keep the base value."
                )
        # Every value must be valid for its config field: the checks of a training run.
        config_fields = {
            f.name: f for c in (ModelConfig, TrainConfig) for f in dataclasses.fields(c)
        }
        for field in dataclasses.fields(self):
            for value in getattr(self, field.name):
                try:
                    check_field(config_fields[field.name], value)
                except ValueError as error:
                    raise ValueError(f"SearchSpace.{field.name}: {error}") from None

    @classmethod
    def load(cls, path):
        """Reads a JSON object of fields to override, e.g. ``{"hidden_dim": [32, 64]}``."""
        try:
            with open(path, encoding="utf-8") as file:
                return cls.from_dict(json.load(file))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"Cannot read the search space {path}: {error}") from error


def _choice(hp, name, choices, default):
    """``hp.Choice`` over ``choices`` plus ``default``; ``hp.Fixed`` if only one value."""
    values = sorted(set(choices) | {default}, key=lambda v: (isinstance(v, str), v))
    if len(values) == 1:
        return hp.Fixed(name, default)
    return hp.Choice(name, values, default=default)


def _range(hp, name, bounds, default, sampling="linear"):
    """``hp.Float`` over ``bounds`` widened to hold ``default``; fixed if ``bounds`` is empty."""
    if not bounds:
        return hp.Fixed(name, default)
    low, high = min(bounds[0], default), max(bounds[1], default)
    if low == high:
        return hp.Fixed(name, default)
    return hp.Float(name, low, high, sampling=sampling, default=default)


def sample_config(hp, base, space):
    """Declares the hyperparameters of ``space`` in ``hp`` and returns the sampled
    ``TrainConfig``: ``base`` with each tuned field set to ``hp``'s value.

    Hyperparameter names are the ``TrainConfig`` / ``ModelConfig`` field names. With a
    file ``cache``, a trial whose audio features differ from the base's caches to
    ``<cache>-<features>``.
    """
    model = base.model
    changes = {
        "learning_rate": _range(
            hp, "learning_rate", space.learning_rate, base.learning_rate or base.scratch_lr,
            sampling="log",
        ),
        "hidden_dim": _choice(hp, "hidden_dim", space.hidden_dim, model.hidden_dim),
        "latent_dim": _choice(hp, "latent_dim", space.latent_dim, model.latent_dim),
        "dropout": _range(hp, "dropout", space.dropout, model.dropout),
        "fusion": _choice(hp, "fusion", space.fusion, model.fusion),
        "batch_size": _choice(hp, "batch_size", space.batch_size, base.batch_size),
        "label_smoothing": _choice(
            hp, "label_smoothing", space.label_smoothing, base.label_smoothing
        ),
    }
    if len(model.modalities) > 1:
        changes["modality_dropout"] = _choice(
            hp, "modality_dropout", space.modality_dropout, model.modality_dropout
        )
    if "text" in model.modalities and model.text_encoder == "bert":
        changes["text_pooling"] = _choice(
            hp, "text_pooling", space.text_pooling, model.text_pooling
        )
    if "audio" in model.modalities:
        changes["audio_features"] = _choice(
            hp, "audio_features", space.audio_features, model.audio_features
        )
    if "video" in model.modalities:
        changes["video_temporal"] = _choice(
            hp, "video_temporal", space.video_temporal, model.video_temporal
        )
    if base.cache and changes.get("audio_features", model.audio_features) != model.audio_features:
        # Other features, other preprocessed examples: never read the base's cache files.
        changes["cache"] = f"{base.cache}-{changes['audio_features']}"
    return base.replace(**changes)


def training_callbacks(config):
    """The training CLI's callbacks that steer training (early stopping of the encoders and
    of the run, learning-rate reduction), without its files (checkpoints, logs, backup)."""
    # Made by make_callbacks (meld_tf.callbacks) so that a trial trains exactly as a run; the other
    # callbacks are only constructed (no file is touched before ``fit``) and dropped.
    steering = (EncoderEarlyStopping, keras.callbacks.EarlyStopping,
                keras.callbacks.ReduceLROnPlateau)
    callbacks = [c for c in make_callbacks(config, run_dir=os.devnull) if isinstance(c, steering)]
    for callback in callbacks:
        if isinstance(callback, EncoderEarlyStopping):
            callback.folder = None  # best weights in memory: a trial is not resumed
    return callbacks


class MeldHyperModel(keras_tuner.HyperModel):
    """The meld-tf classifier as a KerasTuner ``HyperModel``.

    A trial trains exactly as ``meld_tf.train`` would with the sampled config: the same
    seed, ``trainer.build_model`` and its ``compile()``, ``trainer.make_datasets``
    and ``fit`` with the run's BatchNormalization statistics, early stopping and
    learning-rate reduction (plus the tuner's callbacks).

    Args:
        base: the ``TrainConfig`` that every trial starts from (its values are the
            hyperparameters' defaults; its ``epochs`` is the epoch budget of a trial).
        space: the ``SearchSpace``; default ``SearchSpace()``.
        **kwargs: passed to ``keras_tuner.HyperModel`` (``name``, ``tunable``).

    Example:
    >>> hypermodel = MeldHyperModel(TrainConfig(dataset="sample"))  # doctest: +SKIP
    >>> model = hypermodel.build(keras_tuner.HyperParameters())  # the baseline  # doctest: +SKIP
    """

    def __init__(self, base, space=None, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.space = space or SearchSpace()
        self._verbose = True  # Print the dataset choice once.

    def config(self, hp):
        """The ``TrainConfig`` of ``hp`` (declaring the space in ``hp``)."""
        return sample_config(hp, self.base, self.space)

    def build(self, hp):
        """Builds and compiles the classifier of ``hp``, seeded as ``trainer.train`` seeds."""
        config = self.config(hp)
        keras.utils.set_random_seed(config.seed)
        model = trainer.build_model(config)
        model.compile()  # The run's optimizer, losses and metrics (MeldClassifier.compile).
        return model

    def fit(self, hp, model, *args, callbacks=None, epochs=None, **kwargs):
        """Trains ``model`` on datasets made for ``hp``'s config (its sampled batch size).

        The datasets are made afresh for every trial: a reused shuffled dataset would
        continue its shuffle sequence, and the trial would not train as
        ``meld_tf.train`` does. ``callbacks`` (the tuner's) run after the training CLI's
        early stopping and learning-rate reduction; ``epochs`` defaults to the base
        config's. Data given in ``args`` replaces the config's datasets.
        """
        config = self.config(hp)
        order = []  # The training order of each epoch, as in a training run.
        if not args and "x" not in kwargs:
            train, validation, _, info = trainer.make_datasets(config, verbose=self._verbose)
            self._verbose = False
            args = (train,)
            kwargs.setdefault("validation_data", validation)
            order = [DataOrder(info["epoch"])]
        train = args[0] if args else kwargs["x"]
        adapt_audio_normalization(model, train)  # As in training.
        statistics = BatchNormStatistics(train, config.norm_batches)
        callbacks = [*order, statistics, *training_callbacks(config), *(callbacks or [])]
        kwargs.setdefault("shuffle", False)  # The dataset shuffles itself, by (seed, epoch).
        return model.fit(*args, epochs=epochs or config.epochs, callbacks=callbacks, **kwargs)
