"""Training configuration: one frozen dataclass for a whole run.

``TrainConfig`` nests the model's ``ModelConfig`` and adds everything about the data and
the optimisation. It is built from the command line or from JSON, passed down to every
part of training, and written to ``config.json`` in the run folder, so that
``python -m meld_tf.train --config runs/<run>/config.json`` replays the run exactly.
"""

import dataclasses
import json

from meld_tf.config import JsonConfig, ModelConfig

DATASETS = ("auto", "full", "text", "sample")
CLASS_WEIGHTS = ("none", "balanced")
STRATEGIES = ("auto", "mirrored", "multi_worker", "tpu")  # see meld_tf.distribute


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything a training run needs, besides the data itself.

    Args:
        model: the ``ModelConfig`` of the classifier.
        dataset: ``"auto"`` (prepared ``full`` MELD if found, else ``text`` for text-only
            runs, else the built-in ``sample``), ``"full"``, ``"text"`` or ``"sample"``.
        data_dir: TFDS data folder; empty for the default of ``meld_tf.data``.
        manual_dir: folder of the MELD archive or CSVs, for preparing ``full``/``text``.
        context: previous utterances of the dialogue given to the text encoder.
        max_examples: use only the first ``max_examples`` examples of each split (0: all);
            for smoke runs.
        epochs: maximum number of epochs (early stopping may end sooner).
        batch_size: examples per batch.
        learning_rate: initial AdamW learning rate.
        weight_decay: AdamW weight decay.
        label_smoothing: label smoothing of both cross-entropy losses.
        loss_weights: ``(emotion, sentiment)`` weights of the two losses.
        class_weights: ``"none"`` or ``"balanced"`` (per-example weights of the emotion
            loss, inversely proportional to the class frequency in train).
        early_stopping_patience: epochs without a lower validation loss before stopping.
        lr_patience: epochs without a lower validation loss before the LR is reduced.
        lr_factor: factor of each learning-rate reduction.
        min_learning_rate: floor of the learning-rate reductions.
        mixed_precision: compute in half precision, variables in float32
            (``mixed_float16`` on GPUs, ``mixed_bfloat16`` on CPUs and TPUs).
        strategy: ``tf.distribute`` strategy (`meld_tf.distribute.make_strategy`):
            ``"auto"``, ``"mirrored"``, ``"multi_worker"`` or ``"tpu"``; ``batch_size`` is
            the global batch, split across the replicas.
        shuffle_buffer: size of the training shuffle buffer.
        bucket_by_length: batch training examples of similar text length together and
            trim every batch's text padding (to its longest text, rounded up to 8
            tokens): the same model, fewer padding tokens computed (1.9x faster MiniLM
            training with context 2 on MELD on a 2-core CPU, see bench/RESULTS.md).
            Off: every batch is padded to ``model.text_max_length``.
        cache: where the preprocessed examples are cached: empty for memory, else a
            file prefix for ``tf.data.Dataset.cache``.
        seed: seed of weights, dropout and shuffles; one seed makes a run repeatable.
        out: run folder; empty for ``runs/<timestamp>-<modalities>``.
    """

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # Data.
    dataset: str = "auto"
    data_dir: str = ""
    manual_dir: str = ""
    context: int = 0
    max_examples: int = 0
    # Optimisation.
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    loss_weights: tuple = (1.0, 0.5)
    class_weights: str = "none"
    early_stopping_patience: int = 2
    lr_patience: int = 1
    lr_factor: float = 0.5
    min_learning_rate: float = 1e-7
    mixed_precision: bool = False
    strategy: str = "auto"
    # Pipeline and run.
    shuffle_buffer: int = 10000
    bucket_by_length: bool = False
    cache: str = ""
    seed: int = 42
    out: str = ""

    def __post_init__(self):
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig.from_dict(self.model))
        object.__setattr__(self, "loss_weights", tuple(float(w) for w in self.loss_weights))
        if self.dataset not in DATASETS:
            raise ValueError(f"Unknown dataset {self.dataset!r}; valid choices: {DATASETS}.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown strategy {self.strategy!r}; valid choices: {STRATEGIES}.")
        if self.class_weights not in CLASS_WEIGHTS:
            raise ValueError(
                f"Unknown class_weights {self.class_weights!r}; valid choices: {CLASS_WEIGHTS}."
            )
        if len(self.loss_weights) != 2 or min(self.loss_weights) < 0:
            raise ValueError(
                f"loss_weights {self.loss_weights} must be two non-negative numbers "
                "(emotion, sentiment)."
            )
        if sum(self.loss_weights) == 0:
            raise ValueError("loss_weights are both 0; give at least one head a weight.")
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "shuffle_buffer": self.shuffle_buffer,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} {value} must be positive.")
        if self.max_examples < 0:
            raise ValueError(f"max_examples {self.max_examples} must be 0 (all) or more.")
        if self.context < 0:
            raise ValueError(f"context {self.context} must be 0 or more utterances.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing {self.label_smoothing} must be in [0, 1).")
        if not 0.0 < self.lr_factor < 1.0:
            raise ValueError(f"lr_factor {self.lr_factor} must be in (0, 1).")

    def replace(self, **changes):
        """Returns a copy with ``changes``; keys of ``ModelConfig`` go to ``model``."""
        model_fields = {field.name for field in dataclasses.fields(ModelConfig)}
        model_changes = {k: v for k, v in changes.items() if k in model_fields}
        own = {k: v for k, v in changes.items() if k not in model_fields}
        model = dataclasses.replace(self.model, **model_changes)
        return dataclasses.replace(self, model=model, **own)

    def save(self, path):
        """Writes the config as JSON to ``path``."""
        with open(path, "w", encoding="utf-8") as file:
            file.write(self.to_json() + "\n")

    @classmethod
    def load(cls, path):
        """Reads a config written by ``save``; raises a clear error for a bad file."""
        try:
            with open(path, encoding="utf-8") as file:
                return cls.from_json(file.read())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"Cannot read the run config {path}: {error}") from error
