"""Training configuration: one frozen dataclass for a whole run.

``TrainConfig`` nests the model's ``ModelConfig`` and adds everything about the data and
the optimisation. It is built from the command line or from JSON, passed down to every
part of training, and written to ``config.json`` in the run folder, so that
``python -m meld_tf.train --config runs/<run>/config.json`` replays the run exactly: the
run writes the data it resolved (``dataset``, ``dataset_version``, ``data_dir``), never
``"auto"``. Every field has a flag of ``meld_tf.train`` (`meld_tf.config.option`).
"""

import dataclasses
import json
import string

from meld_tf.config import JsonConfig, ModelConfig, check_fields, option

DATASETS = ("auto", "full", "text", "sample")
DATASET_PATTERN = r"auto|full|text|sample(_\d+d_s\d+)?"  # sample_120d_s0: a bigger sample
CLASS_WEIGHTS = ("none", "balanced")
STRATEGIES = ("auto", "mirrored", "multi_worker", "tpu")  # see meld_tf.distribute
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # see meld_tf.distribute.resolve_precision
# Validation log key that picks the best epoch -> whether higher is better.
MONITORS = {"val_emotion_weighted_f1": "max", "val_loss": "min"}
MAX_SEED = 2**32 - 1  # NumPy's largest seed
TEMPLATE_FIELDS = ("text", "speaker")  # of ``text_template``


def template_parts(template):
    """``[(literal, field or None)]`` of a ``text_template``, e.g. ``"{speaker}: {text}"``
    -> ``[("", "speaker"), (": ", "text")]``; raises ``ValueError`` for a field other than
    ``{text}`` and ``{speaker}`` or a template without ``{text}``."""
    try:
        parts = [(literal, field) for literal, field, _, _ in string.Formatter().parse(template)]
    except ValueError as error:
        raise ValueError(f"text_template {template!r} (--text-template): {error}") from error
    fields = [field for _, field in parts if field is not None]
    if "text" not in fields or set(fields) - set(TEMPLATE_FIELDS):
        raise ValueError(
            f"text_template {template!r} (--text-template) must hold {{text}}, and may hold "
            "{speaker}, and no other field: e.g. '{speaker}: {text}'."
        )
    return parts


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Everything a training run needs, besides the data itself.

    Args:
        model: the ``ModelConfig`` of the classifier.
        dataset: ``"auto"`` (prepared ``full`` MELD if found, else ``text`` for text-only
            runs, else the built-in ``sample``), ``"full"``, ``"text"`` or ``"sample"``.
        dataset_version: version of the TFDS dataset ``meld/<dataset>``; empty for the
            builder's current one. A run records the version it used, and a replay or a
            resume refuses another.
        data_dir: TFDS data folder; empty for the default of ``meld_tf.dataset``.
        manual_dir: folder of the MELD archive or CSVs, for preparing ``full``/``text``.
        context: previous utterances of the dialogue given to the text encoder.
        future_context: next utterances of the dialogue given to the text encoder, after
            the previous ones (`meld_tf.preprocessing.dialogue_contexts`).
        text_template: how the utterance reads to the text encoder: a format string of
            ``{text}`` and ``{speaker}`` (the utterance's speaker), e.g. ``"{text}"`` (the
            default: the utterance alone) or ``"{speaker}: {text}"``.
        max_examples: use only the first ``max_examples`` examples of each split (0: all);
            for smoke runs.
        epochs: maximum number of epochs (early stopping may end sooner).
        batch_size: examples per batch.
        learning_rate: one initial AdamW learning rate for every part of the model (``--lr``);
            0 (the default): each part its own, ``pretrained_lr`` and ``scratch_lr``
            (`meld_tf.optimizer`).
        pretrained_lr: initial learning rate of pretrained backbones (a pretrained BERT, a
            ResNet ``video_preset``), fine-tuned gently.
        scratch_lr: initial learning rate of everything trained from scratch: the other
            encoders, the fusion and the heads.
        norm_batches: training batches over which the BatchNormalization statistics of
            the encoders are re-estimated before each validation
            (`meld_tf.callbacks.BatchNormStatistics`).
        warmup_steps: steps over which every rate rises linearly to its initial value
            (`meld_tf.optimizer.PartwiseAdamW`; 0: none).
        weight_decay: AdamW weight decay.
        label_smoothing: label smoothing of both cross-entropy losses.
        loss_weights: ``(emotion, sentiment)`` weights of the two losses.
        class_weights: ``"none"`` or ``"balanced"`` (per-example weights of the emotion
            loss, inversely proportional to the class frequency in train).
        monitor: the validation score that picks the best epoch (its weights are the
            run's model), stops training early and lowers the learning rate:
            ``"val_emotion_weighted_f1"`` (the score reported, maximised) or
            ``"val_loss"`` (minimised). The loss keeps falling only while the model does
            not grow more confident than it is right: on small validation sets it rose
            from the first epoch while accuracy rose for two more.
        early_stopping_patience: epochs without a better ``monitor`` before stopping.
        lr_patience: epochs without a better ``monitor`` before the LR is reduced. With
            1 and 2 (the defaults until 2026-11-30) the conv3d video encoder on the sample
            stopped after 4 epochs at 36.9 % test accuracy, its learning rate halved by
            validation noise; with 2 and 4 it trained 15 epochs to 56.9 % (seed 1).
        encoder_patience: in a model with auxiliary heads (``ModelConfig.auxiliary_heads``),
            epochs without a lower validation loss of an encoder's own head before the
            encoder returns to its best epoch's weights and stops learning
            (`meld_tf.encoder_stopping`); 0: off. Models without auxiliary heads (one
            modality, or ``auxiliary_loss`` 0) have none to watch: it does nothing there.
        lr_factor: factor of each learning-rate reduction.
        min_learning_rate: floor of the learning-rate reductions.
        precision: ``"auto"`` (bfloat16 on a CPU with AVX-512 BF16 or AMX, where it is
            faster, float32 elsewhere), ``"fp32"``, ``"bf16"`` (Keras
            ``mixed_bfloat16``: variables in float32) or ``"fp16"`` (``mixed_float16``,
            GPUs). A run records the precision it used, never ``"auto"``.
        strategy: ``tf.distribute`` strategy (`meld_tf.distribute.make_strategy`):
            ``"auto"``, ``"mirrored"``, ``"multi_worker"`` or ``"tpu"``; ``batch_size`` is
            the global batch, split across the replicas.
        shuffle_buffer: size of the training shuffle buffer.
        bucket_by_length: batch training examples of similar text length together
            (sorted within shuffled windows of 50 batches, as the PyTorch peer's
            ``group_by_length`` does) and trim every batch's text padding to its longest
            text: the same model, fewer padding tokens computed. Off
            (``--no-bucket-by-length``): every batch is padded to
            ``model.text_max_length``.
        cache: where the preprocessed examples are cached: empty for memory, else a
            file prefix for ``tf.data.Dataset.cache``.
        seed: seed of weights, dropout and shuffles; one seed makes a run repeatable
            (the training order of epoch ``e`` is a function of ``(seed, e)``).
        out: run folder; empty for ``runs/<timestamp>-<modalities>``.
    """

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # Data.
    dataset: str = option(
        "auto",
        "auto (prepared MELD if found, else the built-in sample), full, text, sample, or "
        "sample_<N>d_s<SEED> (the sample generated with N dialogues and that seed)",
        pattern=DATASET_PATTERN, pattern_words=f"one of {', '.join(DATASETS)} or "
        "sample_<N>d_s<SEED> (e.g. sample_120d_s0)",
    )
    dataset_version: str = option(
        "", "TFDS version of meld/<dataset> (a run records the one it used)"
    )
    data_dir: str = option("", "TFDS data folder (default: meld_tf's data folder)")
    manual_dir: str = option("", "folder of the MELD archive/CSVs, to prepare full/text")
    context: int = option(
        0, "previous utterances of the dialogue given to the text encoder ('Speaker: text')",
        min=0,
    )  # fmt: skip
    future_context: int = option(
        0, "next utterances of the dialogue given to the text encoder, after the previous ones",
        min=0,
    )  # fmt: skip
    text_template: str = option(
        "{text}", "how the utterance reads to the text encoder: a format string of {text} and "
        "{speaker}, e.g. '{speaker}: {text}'",
    )  # fmt: skip
    max_examples: int = option(0, "use only the first N examples of each split (0: all)", min=0)
    # Optimisation.
    epochs: int = option(10, "maximum epochs (early stopping may end sooner)", min=1)
    batch_size: int = option(16, "examples per batch (16-32 is usual)", min=1)
    learning_rate: float = option(
        0.0, "one initial learning rate for every part (0: --pretrained-lr, --scratch-lr)",
        flag="--lr", min=0,
    )
    pretrained_lr: float = option(
        1e-4, "initial learning rate of pretrained encoders (BERT, a ResNet preset)", above=0
    )
    scratch_lr: float = option(
        1e-3, "initial learning rate of encoders trained from scratch, fusion and heads",
        above=0,
    )
    norm_batches: int = option(
        50, "training batches that re-estimate the encoders' BatchNormalization statistics "
        "before each validation", min=1,
    )
    warmup_steps: int = option(
        100, "steps over which the learning rate rises linearly to its initial value", min=0
    )
    weight_decay: float = option(0.01, "AdamW weight decay", min=0)
    label_smoothing: float = option(0.1, "label smoothing of both losses", min=0, below=1)
    loss_weights: tuple = option(
        (1.0, 0.5), "weights of the two losses", of=float, nargs=2, min=0,
        metavar=("EMOTION", "SENTIMENT"),
    )  # fmt: skip
    class_weights: str = option("none", "emotion loss weights per class", choices=CLASS_WEIGHTS)
    monitor: str = option(
        "val_emotion_weighted_f1",
        "validation score that picks the best epoch, stops early and lowers the learning rate",
        choices=tuple(MONITORS),
    )
    early_stopping_patience: int = option(
        4, "epochs without a better --monitor before stopping", flag="--patience", min=0
    )
    lr_patience: int = option(
        2, "epochs without a better --monitor before the learning rate is reduced", min=0
    )
    encoder_patience: int = option(
        3, "epochs without a better validation loss of an encoder's own head before that "
        "encoder goes back to its best weights and stops learning (several modalities; 0: off)",
        min=0,
    )
    lr_factor: float = option(0.5, "factor of each learning-rate reduction", above=0, below=1)
    min_learning_rate: float = option(1e-7, "floor of the learning-rate reductions", min=0)
    precision: str = option(
        "auto", "auto (bf16 on CPUs with AVX-512 BF16 or AMX, else fp32), fp32, bf16, fp16 (GPU)",
        choices=PRECISIONS,
    )
    strategy: str = option(
        "auto",
        "tf.distribute strategy: auto (one device, mirrored if >1 GPU), mirrored (local "
        "GPUs), multi_worker (machines of TF_CONFIG), tpu; --batch-size is the global batch",
        choices=STRATEGIES,
    )
    # Pipeline and run.
    shuffle_buffer: int = option(10000, "size of the training shuffle buffer", min=1)
    bucket_by_length: bool = option(
        True, "batch texts of similar length together and trim their padding (faster)"
    )
    cache: str = option("", "file prefix to cache preprocessed data (default: memory)")
    seed: int = option(42, "random seed; the same seed repeats a run", min=0, max=MAX_SEED)
    out: str = option("", "run folder (default: runs/<timestamp>-<modalities>)")

    @classmethod
    def from_dict(cls, values):
        """A config from its JSON fields; configs written before a field existed read as
        the runs that wrote them trained."""
        values = dict(values)
        if "mixed_precision" in values:  # Before --precision.
            values.setdefault("precision", "bf16" if values.pop("mixed_precision") else "fp32")
        if values.get("dataset_version"):  # Written by a run.
            values.setdefault("monitor", "val_loss")  # Before --monitor, by the loss.
            if isinstance(values.get("model"), dict):  # Before auxiliary heads, none.
                values["model"] = {"auxiliary_loss": 0.0, **values["model"]}
            values.setdefault("encoder_patience", 0)  # Before per-encoder stopping, none.
        return super().from_dict(values)

    def __post_init__(self):
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", ModelConfig.from_dict(self.model))
        if isinstance(self.loss_weights, list):
            object.__setattr__(self, "loss_weights", tuple(self.loss_weights))
        check_fields(self)
        template_parts(self.text_template)
        object.__setattr__(self, "loss_weights", tuple(float(w) for w in self.loss_weights))
        if sum(self.loss_weights) == 0:
            raise ValueError(
                "loss_weights (0.0, 0.0) (--loss-weights) are both 0; give a head a weight."
            )
        rates = [self.learning_rate] if self.learning_rate else [
            self.pretrained_lr, self.scratch_lr]
        if self.min_learning_rate > min(rates):
            raise ValueError(
                f"min_learning_rate {self.min_learning_rate} (--min-learning-rate) must be at "
                f"most the learning rates {', '.join(map(str, rates))} (--lr, "
                "--pretrained-lr, --scratch-lr)."
            )

    @property
    def dialogue_context(self):
        """Whether the text encoder reads other turns of the dialogue (``context`` or
        ``future_context``)."""
        return self.context > 0 or self.future_context > 0

    @property
    def reads_speaker(self):
        """Whether ``text_template`` reads the utterance's speaker."""
        return any(field == "speaker" for _, field in template_parts(self.text_template))

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
