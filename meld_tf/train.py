"""Train a MELD emotion and sentiment classifier from the command line.

    python -m meld_tf.train --modalities text audio
    python -m meld_tf.train --config runs/<run>/config.json     # replay a run exactly

Without ``--dataset`` the prepared MELD (``full``, else ``text`` for text-only runs) is used
when found in the data folder, otherwise the built-in synthetic ``sample``. Run
``python -m meld_tf.train --help`` for every flag: one per field of ``TrainConfig`` and
``ModelConfig``, generated from the fields' metadata (`meld_tf.config.option`). An
interrupted run resumes at its next epoch when the same command is run again.
"""

import argparse
import dataclasses
import sys

from meld_tf.config import ModelConfig, flag_of
from meld_tf.train_config import TrainConfig

CONFIGS = (ModelConfig, TrainConfig)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the flags)\n")


def _shown(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return value if value != "" else "none"


def add_config_flags(parser):
    """One flag per config field, from its metadata; every default is None (not given)."""
    for config_class in CONFIGS:
        defaults = config_class()
        group = parser.add_argument_group(f"{config_class.__name__} fields")
        for field in dataclasses.fields(config_class):
            meta = field.metadata
            if "help" not in meta:
                continue  # TrainConfig.model: its fields are flags themselves
            default = getattr(defaults, field.name)
            if meta.get("negated"):
                default = not default
            help_text = meta["help"]
            if "(default" not in help_text:
                help_text += f" (default: {_shown(default)})"
            kwargs = {"default": None, "help": help_text, "metavar": meta.get("metavar")}
            if field.type is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = meta.get("of", str) if field.type is tuple else field.type
                kwargs["choices"] = meta.get("choices")
                if field.type is tuple:
                    kwargs["nargs"] = meta.get("nargs", "+")
            group.add_argument(flag_of(field), **kwargs)


def build_parser():
    parser = Parser(
        prog="python -m meld_tf.train",
        description="Train an emotion and sentiment classifier on MELD.",
    )
    parser.add_argument("--config", help="replay a run: its config.json (other flags override)")
    add_config_flags(parser)
    return parser


def config_from_args(args):
    """The ``TrainConfig`` of parsed flags (on top of ``--config`` when given)."""
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    changes = {}
    for config_class in CONFIGS:
        for field in dataclasses.fields(config_class):
            if "help" not in field.metadata:
                continue
            value = getattr(args, flag_of(field)[2:].replace("-", "_"))
            if value is None:
                continue
            if field.metadata.get("negated"):
                value = not value
            changes[field.name] = tuple(value) if isinstance(value, list) else value
    return config.replace(**changes)


def main(argv=None):
    """Entry point; returns the run folder."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    from meld_tf import trainer  # TensorFlow: only once the flags are known to be good
    from meld_tf.callbacks import NonFiniteError
    from meld_tf.run_data import RunError

    try:
        return trainer.train(config)
    except RunError as error:
        parser.error(str(error))
    except NonFiniteError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main(sys.argv[1:])
