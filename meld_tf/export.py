"""Export a trained run as a SavedModel that takes raw inputs.

    python -m meld_tf.export runs/<run> --out exported/

The SavedModel's ``serve`` function and signature take the run's raw inputs (UTF-8 text
and context, a mono waveform, RGB frames; see `meld_tf.serving`) and return both heads'
probabilities (and the fusion weights with attention fusion). It loads without meld_tf or
keras-hub: ``import tensorflow_text`` (for the tokenizer's ops), then
``tf.saved_model.load``.
"""

import argparse
import os
import sys

from meld_tf.run_data import RunError
from meld_tf.serving import ENDPOINT, input_signature
from meld_tf.task import MeldClassifier


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m meld_tf.export",
        description="Export a trained meld-tf run as a SavedModel that takes raw inputs.",
    )
    parser.add_argument("run_dir", help="run folder written by python -m meld_tf.train")
    parser.add_argument("--out", required=True, help="folder of the SavedModel (new or empty)")
    return parser


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and (not os.path.isdir(args.out) or os.listdir(args.out)):
        parser.error(f"--out {args.out} exists and is not an empty folder; choose another.")
    try:
        serving = MeldClassifier.from_run(args.run_dir).export(args.out)
    except (RunError, FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    inputs = ", ".join(f"{spec.name} {spec.dtype.name} {spec.shape}"
                       for spec in input_signature(serving.config))  # fmt: skip
    outputs = ", ".join(serving.model.output)
    print(f"Wrote the SavedModel of {args.run_dir} to {args.out}.")
    print(f"  {ENDPOINT}({inputs}) -> {outputs}")
    print("  Load: import tensorflow as tf, tensorflow_text; "
          f"tf.saved_model.load({args.out!r}).{ENDPOINT}(...)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
