"""Evaluate a trained run on a split of its dataset, from the command line.

    python -m meld_tf.evaluate runs/<run> --split test
    python -m meld_tf.evaluate runs/<run> --drop-modality audio   # as if audio were missing

Reloads the run's model and preprocessor, rebuilds the split's inputs exactly as in
training, prints accuracy, weighted F1 and macro F1 per head (``--report`` adds the
per-class report) and checks them against the metrics recorded by the run.
``--drop-modality`` zeroes a modality's ``*_mask`` input for every example (what the model
sees when that modality is missing), to measure how much the fused model relies on it.
"""

import argparse
import json
import sys

import tensorflow as tf

from meld_tf.labels import HEADS, SPLITS
from meld_tf.metrics import classification_report
from meld_tf.run_data import RunError
from meld_tf.scoring import evaluate_split, format_scores, open_split, split_batches

SCORES = ("accuracy", "weighted_f1", "macro_f1")


def drop_modalities(batches, modalities):
    """``batches`` with the ``{m}_mask`` input of each of ``modalities`` set to 0.

    Raises ValueError naming the model's modalities if one of ``modalities`` is not an
    input of the batches.
    """
    names = [f"{modality}_mask" for modality in modalities]
    present = [name for name in batches.element_spec[0] if name.endswith("_mask")]
    missing = [name for name in names if name not in present]
    if missing:
        raise ValueError(
            f"Cannot drop {missing}: the model's modality masks are {present}; drop only "
            "modalities the run was trained with."
        )

    def drop(inputs, *rest):
        inputs = dict(inputs)
        for name in names:
            inputs[name] = tf.zeros_like(inputs[name])
        return (inputs, *rest)

    return batches.map(drop)


def evaluate_run(run_dir, split="test", data_dir=None, verbose=True, drop=()):
    """Metrics of a run on ``split`` and the metrics the run recorded for it.

    ``drop``: modalities whose mask is zeroed for every example (see ``drop_modalities``).

    Returns:
        ``(metrics, recorded)``: per head ``classification_metrics``; ``recorded`` the
        same from the run's ``metrics.json`` (None if it recorded none for ``split``).
    """
    config, model, preprocessor, recorded, examples = open_split(
        run_dir, split, data_dir, verbose
    )
    batches = split_batches(config, preprocessor, examples, split)
    if drop:
        batches = drop_modalities(batches, drop)
    metrics = evaluate_split(model, batches)
    return metrics, None if drop else recorded.get(split)


def differences(metrics, recorded, tolerance=1e-9):
    """``["emotion accuracy: 0.51 now, 0.52 recorded", ...]`` where the two disagree."""
    found = []
    for head in HEADS:
        for score in SCORES:
            now, then = metrics[head][score], recorded[head][score]
            if abs(now - then) > tolerance:
                found.append(f"{head} {score}: {now:.6f} now, {then:.6f} recorded")
    return found


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m meld_tf.evaluate",
        description="Evaluate a trained meld-tf run on a split of its dataset.",
    )
    parser.add_argument("run_dir", help="run folder written by python -m meld_tf.train")
    parser.add_argument(
        "--split", choices=SPLITS, default="test", help="split to score (default: test)"
    )
    parser.add_argument("--data-dir", help="TFDS data folder (default: the run's)")
    parser.add_argument(
        "--drop-modality", nargs="+", default=[], metavar="MODALITY",
        help="zero these modalities' masks (as if missing) for every example",
    )
    parser.add_argument("--report", action="store_true", help="print per-class reports too")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def main(argv=None):
    """Entry point; returns 0, or 1 if the metrics differ from the recorded ones."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        metrics, recorded = evaluate_run(
            args.run_dir, args.split, args.data_dir, verbose=not args.json,
            drop=args.drop_modality,
        )
    except (RunError, FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps({args.split: metrics}, indent=2))
    else:
        print(format_scores(metrics, f"{args.split}:"))
        if args.report:
            for head, classes in HEADS.items():
                print(classification_report(metrics[head], classes, title=f"\n{head}"))
    if args.drop_modality:
        dropped = " ".join(args.drop_modality)
        print(f"Dropped {dropped}: not compared with the recorded metrics.", file=sys.stderr)
        return 0
    if recorded is None:
        print(f"The run recorded no {args.split} metrics to compare with.", file=sys.stderr)
        return 0
    mismatches = differences(metrics, recorded)
    if mismatches:
        print("Differs from the recorded metrics: " + "; ".join(mismatches), file=sys.stderr)
        return 1
    print(f"Same as the {args.split} metrics recorded by the run.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
