"""Train a MELD emotion and sentiment classifier from the command line.

    python -m meld_tf.train --modalities text audio
    python -m meld_tf.train --config runs/<run>/config.json     # replay a run exactly

Without ``--dataset`` the prepared MELD (``full``, else ``text`` for text-only runs) is used
when found in the data folder, otherwise the built-in synthetic ``sample``. Run
``python -m meld_tf.train --help`` for every flag. An interrupted run resumes at its next
epoch when the same command is run again.
"""

import argparse
import sys

from meld_tf import trainer
from meld_tf.config import (
    AUDIO_FEATURES,
    FUSIONS,
    TEXT_ENCODERS,
    VIDEO_ENCODERS,
    VIDEO_SOURCES,
)
from meld_tf.labels import MODALITIES
from meld_tf.train_config import CLASS_WEIGHTS, DATASETS, STRATEGIES, TrainConfig

CHOICES = {
    "text_encoder": TEXT_ENCODERS,
    "audio_features": AUDIO_FEATURES,
    "video_encoder": VIDEO_ENCODERS,
    "video_source": VIDEO_SOURCES,
    "fusion": FUSIONS,
    "class_weights": CLASS_WEIGHTS,
    "strategy": STRATEGIES,
}
# Flags of ModelConfig fields: (flag, field, type, help).
MODEL_FLAGS = (
    ("--text-encoder", "text_encoder", str, "text encoder"),
    ("--text-preset", "text_preset", str,
     "bert weights: minilm_l6 (pretrained), bert_tiny (small, random) or a local folder"),
    ("--text-max-length", "text_max_length", int, "tokens per example, context included"),
    ("--freeze-text", None, None, "freeze the BERT encoder (train only the rest)"),
    ("--audio-features", "audio_features", str, "audio features"),
    ("--audio-seconds", "audio_seconds", float, "seconds of audio given to the model"),
    ("--video-encoder", "video_encoder", str, "video encoder"),
    ("--video-source", "video_source", str, "video frames"),
    ("--num-frames", "num_frames", int, "video frames per clip"),
    ("--frame-size", "frame_size", int, "side of the square video frames, in pixels"),
    ("--video-width", "video_width", int, "base width of the video CNN"),
    ("--fusion", "fusion", str, "fusion of the modalities"),
    ("--latent-dim", "latent_dim", int, "size of each encoder's output"),
    ("--hidden-dim", "hidden_dim", int, "size of the layer before the heads"),
    ("--dropout", "dropout", float, "dropout before the heads"),
    ("--modality-dropout", "modality_dropout", float,
     "training-time probability of hiding each present modality"),
)
# Flags of TrainConfig fields: (flag, field, type, help).
TRAIN_FLAGS = (
    ("--data-dir", "data_dir", str, "TFDS data folder (default: meld_tf's data folder)"),
    ("--manual-dir", "manual_dir", str, "folder of the MELD archive/CSVs, to prepare full/text"),
    ("--context", "context", int,
     "previous utterances of the dialogue given to the text encoder ('Speaker: text')"),
    ("--epochs", "epochs", int, "maximum epochs (early stopping may end sooner)"),
    ("--batch-size", "batch_size", int, "examples per batch (16-32 is usual)"),
    ("--lr", "learning_rate", float, "initial AdamW learning rate"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay"),
    ("--label-smoothing", "label_smoothing", float, "label smoothing of both losses"),
    ("--class-weights", "class_weights", str,
     "emotion loss weights per class"),
    ("--patience", "early_stopping_patience", int,
     "epochs without better validation loss before stopping"),
    ("--cache", "cache", str, "file prefix to cache preprocessed data (default: memory)"),
    ("--seed", "seed", int, "random seed; the same seed repeats a run"),
    ("--strategy", "strategy", str,
     "tf.distribute strategy: auto (one device, mirrored if >1 GPU), mirrored (local "
     "GPUs), multi_worker (machines of TF_CONFIG), tpu; --batch-size is the global batch"),
    ("--out", "out", str, "run folder (default: runs/<timestamp>-<modalities>)"),
)

# On/off TrainConfig fields, off by default: (flag, field, help).
SWITCHES = (
    ("--mixed-precision", "mixed_precision",
     "compute in float16 on GPUs, bfloat16 on CPUs (faster with AMX) and TPUs"),
    ("--bucket-by-length", "bucket_by_length",
     "batch texts of similar length together and trim their padding (faster)"),
)


def build_parser():
    defaults = TrainConfig()
    model_defaults = defaults.model
    parser = argparse.ArgumentParser(
        prog="python -m meld_tf.train",
        description="Train an emotion and sentiment classifier on MELD.",
    )
    parser.add_argument("--config", help="replay a run: its config.json (other flags override)")
    parser.add_argument(
        "--modalities", nargs="+", choices=MODALITIES, default=None,
        help=f"modalities to use (default: {' '.join(model_defaults.modalities)})",
    )  # fmt: skip
    parser.add_argument(
        "--dataset", choices=DATASETS, default=None,
        help="auto: prepared MELD if found, else the built-in sample (default: auto)",
    )  # fmt: skip
    for flag, field, kind, help_text in MODEL_FLAGS:
        if field is None:
            parser.add_argument(flag, action="store_true", default=None, help=help_text)
            continue
        default = getattr(model_defaults, field)
        parser.add_argument(
            flag, type=kind, default=None, choices=CHOICES.get(field),
            help=f"{help_text} (default: {default})",
        )  # fmt: skip
    parser.add_argument(
        "--loss-weights", type=float, nargs=2, metavar=("EMOTION", "SENTIMENT"), default=None,
        help=f"weights of the two losses (default: {' '.join(map(str, defaults.loss_weights))})",
    )  # fmt: skip
    for flag, _, help_text in SWITCHES:
        parser.add_argument(flag, action="store_true", default=None, help=help_text)
    for flag, field, kind, help_text in TRAIN_FLAGS:
        default = getattr(defaults, field)
        parser.add_argument(
            flag, type=kind, default=None, choices=CHOICES.get(field),
            help=help_text if "(default" in help_text else f"{help_text} (default: {default})",
        )  # fmt: skip
    return parser


def config_from_args(args):
    """The ``TrainConfig`` of parsed flags (on top of ``--config`` when given)."""
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    changes = {}
    if args.modalities is not None:
        changes["modalities"] = tuple(args.modalities)
    if args.dataset is not None:
        changes["dataset"] = args.dataset
    for flag, field, _, _ in MODEL_FLAGS + TRAIN_FLAGS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is None:
            continue
        if flag == "--freeze-text":
            changes["text_trainable"] = False
        else:
            changes[field] = value
    if args.loss_weights is not None:
        changes["loss_weights"] = tuple(args.loss_weights)
    for flag, field, _ in SWITCHES:
        if getattr(args, flag[2:].replace("-", "_")):
            changes[field] = True
    return config.replace(**changes)


def main(argv=None):
    """Entry point; returns the run folder."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    try:
        return trainer.train(config)
    except trainer.RunError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main(sys.argv[1:])
