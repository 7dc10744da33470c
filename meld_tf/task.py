"""``MeldClassifier``: the model as a task, in KerasHub's shape.

A KerasHub task (``keras_hub.models.TextClassifier``) is a ``keras.Model`` that holds its
backbone and its preprocessor, whose ``compile()`` knows the right loss, metrics and
optimizer, and whose ``predict`` takes raw inputs. ``MeldClassifier`` is that for
meld-tf: the functional model of `meld_tf.models.build_classifier` (encoders, fusion,
heads) with

- ``encoders``: the encoder of each modality (``{"text": <text_encoder>, ...}``);
- ``preprocessor``: the run's `meld_tf.preprocessing.MeldPreprocessor` (its text, audio
  and video layers), and ``config``: the run's ``TrainConfig``;
- ``compile()``: with no arguments, what a run trains with (`meld_tf.optimizer`'s
  AdamW with a rate per part, label-smoothed cross-entropy on both heads and on the
  encoders' own emotion heads, the heads' loss weights, accuracy and weighted/macro F1);
  any argument given replaces its default;
- ``predict(raw)``: raw inputs, named as the serving function's (`meld_tf.serving`:
  ``text``, ``context``, ``speaker``, ``waveform``/``waveform_length``, ``frames``/``num_frames``);
  a modality left out is masked. Model inputs (``text_token_ids`` ...) predict as any
  Keras model's.

Example::

    model = MeldClassifier.from_run("runs/<run>")
    model.predict({"text": ["Oh my God!", "Fine."]})["emotion"]  # (2, 7) probabilities

A saved ``model.keras`` reloads as a ``MeldClassifier`` (without its preprocessor, which
the run folder keeps in ``preprocessor/``); ``from_run`` reopens all of it, and a run
saved before this class existed reopens as one too.
"""

import warnings

import keras
import numpy as np

from meld_tf import run_folder
from meld_tf.labels import HEADS
from meld_tf.metrics import head_metrics
from meld_tf.models import build_classifier
from meld_tf.optimizer import make_optimizer
from meld_tf.preprocessing import MeldPreprocessor
from meld_tf.serving import Serving, input_signature, write_saved_model
from meld_tf.train_config import TrainConfig


def _quiet_unused_pooler():
    """Silences Keras's warning that the text backbone's pooler gets no gradient, on every
    fit: the text encoder pools the backbone's token outputs, not its pooler. The pooler
    stays trainable, because a KerasHub backbone's config does not carry its layers'
    trainable flags: a frozen pooler would come back trainable from a ``.keras`` file, and
    the saved optimizer state would no longer match the model."""
    warnings.filterwarnings("ignore", category=UserWarning, message=(
        r"Gradients do not exist for variables \['pooled_dense/kernel', 'pooled_dense/bias'\]"))


@keras.saving.register_keras_serializable(package="meld_tf")
class MeldClassifier(keras.Model):
    """The meld-tf task model (see the module doc). Build one with ``for_config``, or
    reopen a trained one with ``from_run``; ``MeldClassifier(inputs, outputs)`` is the
    functional constructor that Keras uses to reload it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = None  # The run's TrainConfig.
        self.preprocessor = None  # The run's MeldPreprocessor.
        self._serving = None

    @classmethod
    def for_config(cls, config, preprocessor=None):
        """A new (untrained) classifier of a ``TrainConfig``."""
        functional = build_classifier(config.model)
        return cls.wrap(functional, config, preprocessor)

    @classmethod
    def wrap(cls, model, config, preprocessor=None):
        """``model`` (a functional classifier, its layers shared) as a ``MeldClassifier``
        with its run's ``config`` and ``preprocessor``."""
        if not isinstance(model, cls):
            model = cls(model.input, model.output, name=model.name)
        model.config = config
        model.preprocessor = preprocessor
        model._serving = None
        return model

    @classmethod
    def from_run(cls, run_dir):
        """The trained classifier of a finished run folder (`meld_tf.run_folder`), with its
        config and preprocessor: the one way a run is reopened. A run saved before this
        class existed holds a plain functional model: it is wrapped."""
        config_path, model_path, preprocessor_dir = run_folder.run_files(run_dir)
        config = TrainConfig.load(config_path)
        model = keras.models.load_model(model_path)
        preprocessor = MeldPreprocessor.load(preprocessor_dir, config)
        return cls.wrap(model, config, preprocessor)

    @property
    def encoders(self):
        """``{modality: encoder model}``, in the order of the config's modalities."""
        return {
            modality: self.get_layer(f"{modality}_encoder")
            for modality in self._train_config().model.modalities
        }

    def compile(self, optimizer="auto", loss="auto", loss_weights="auto", metrics="auto",
                **kwargs):  # fmt: skip
        """Keras ``compile``; each argument left ``"auto"`` is the run's default (see the
        module doc)."""
        _quiet_unused_pooler()
        if "auto" in (optimizer, loss, loss_weights, metrics):
            config = self._train_config()
            heads = (*HEADS, *config.model.auxiliary_heads)
            if optimizer == "auto":
                optimizer = make_optimizer(self, config)
            if loss == "auto":
                smoothing = config.label_smoothing
                loss = {
                    head: keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
                    for head in heads
                }
            if loss_weights == "auto":
                loss_weights = dict(zip(HEADS, config.loss_weights))
                loss_weights.update(
                    dict.fromkeys(config.model.auxiliary_heads, config.model.auxiliary_loss)
                )
            if metrics == "auto":
                metrics = {head: head_metrics(len(classes)) for head, classes in HEADS.items()}
        super().compile(
            optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        """Compiles a reloaded model as it was saved (Keras skips a custom ``compile``)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)  # Its saved state loads next.

    def predict(self, x, batch_size=None, **kwargs):
        """Probabilities of raw inputs (a dict with any of ``text``, ``waveform``,
        ``frames``: see the module doc), as numpy ``{"emotion", "sentiment"}`` and, for
        attention fusion, ``"fusion_weights"``; or Keras ``predict`` of model inputs."""
        if not (isinstance(x, dict) and set(x) & RAW_INPUTS):
            return super().predict(x, batch_size=batch_size, **kwargs)
        inputs = self._complete_raw_inputs(x)
        size = len(next(iter(inputs.values())))
        step = batch_size or self._train_config().batch_size
        parts = [
            self.serving_function()(**{n: v[start : start + step] for n, v in inputs.items()})
            for start in range(0, size, step)
        ]
        return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in parts[0]}

    def serving_function(self):
        """The run's `meld_tf.serving.Serving` (raw inputs -> outputs, one tf.function,
        traced once per input shape class)."""
        if self._serving is None:
            self._serving = Serving(self._train_config(), self, self._require_preprocessor())
        return self._serving

    def export(self, out_dir):
        """Writes the SavedModel that serves raw inputs with this function
        (`meld_tf.serving.write_saved_model`); returns its ``Serving``."""
        return write_saved_model(self.serving_function(), out_dir)

    def _complete_raw_inputs(self, raw):
        """``raw`` as numpy arrays of one batch size, with every serving input of the
        run; a modality left out is masked (empty text, no samples, no frames)."""
        config = self._train_config()
        names = [spec.name for spec in input_signature(config)]
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise ValueError(f"Unknown raw inputs {unknown}; this model takes {names}.")
        inputs = {name: np.asarray(value) for name, value in raw.items()}
        sizes = {name: len(value) for name, value in inputs.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"Raw inputs of different batch sizes: {sizes}.")
        size = next(iter(sizes.values()))
        if "text" in names:
            inputs.setdefault("text", np.array([""] * size, object))
            for name in ("context", "speaker"):
                if name in names:
                    inputs.setdefault(name, np.array([""] * size, object))
        if "waveform" in names:
            inputs.setdefault("waveform", np.zeros((size, 1), np.float32))
            lengths = np.full(size, inputs["waveform"].shape[1], np.int32)
            inputs.setdefault("waveform_length", lengths if "waveform" in raw else lengths * 0)
        if "frames" in names:
            side = config.model.frame_size
            inputs.setdefault("frames", np.zeros((size, 1, side, side, 3), np.uint8))
            counts = np.full(size, inputs["frames"].shape[1], np.int32)
            inputs.setdefault("num_frames", counts if "frames" in raw else counts * 0)
        return inputs

    def _train_config(self):
        if self.config is None:
            raise ValueError(
                f"{self.name} has no TrainConfig: make it with MeldClassifier.for_config(config) "
                "or reopen a run with MeldClassifier.from_run(run_dir)."
            )
        return self.config

    def _require_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                f"{self.name} has no preprocessor, so it cannot read raw inputs: reopen the "
                "run with MeldClassifier.from_run(run_dir)."
            )
        return self.preprocessor


RAW_INPUTS = {"text", "context", "speaker", "waveform", "waveform_length", "frames",
              "num_frames"}  # fmt: skip
