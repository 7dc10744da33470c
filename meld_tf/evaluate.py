"""Evaluate a trained run on a split of its dataset, from the command line.

    python -m meld_tf.evaluate runs/<run> --split test

Reloads the run's model and preprocessor, rebuilds the split's inputs exactly as in
training, prints accuracy, weighted F1 and macro F1 per head (``--report`` adds the
per-class report) and checks them against the metrics recorded by the run.
"""

import argparse
import json
import sys

from meld_tf import trainer
from meld_tf.metrics import classification_report
from meld_tf.preprocessor import split_metadata

SCORES = ("accuracy", "weighted_f1", "macro_f1")


def evaluate_run(run_dir, split="test", data_dir=None, verbose=True):
    """Metrics of a run on ``split`` and the metrics the run recorded for it.

    Returns:
        ``(metrics, recorded)``: per head ``classification_metrics``; ``recorded`` the
        same from the run's ``metrics.json`` (None if it recorded none for ``split``).
    """
    config, model, preprocessor, recorded = trainer.load_run(run_dir)
    # The dataset the run actually used (an "auto" run must not switch dataset later).
    dataset = recorded.get("dataset") or trainer.choose_dataset(config)[0]
    if data_dir:
        config = config.replace(data_dir=data_dir)
    if verbose:
        print(f"Run {run_dir}: dataset {dataset}, split {split}.", flush=True)
    examples = trainer.load_splits(config, dataset)[split]
    rows = split_metadata(examples) if config.context > 0 else None
    batches = preprocessor.batches(preprocessor.preprocess(examples, split, rows))
    metrics = trainer.evaluate_split(model, batches)
    return metrics, recorded.get(split)


def differences(metrics, recorded, tolerance=1e-9):
    """``["emotion accuracy: 0.51 now, 0.52 recorded", ...]`` where the two disagree."""
    found = []
    for head in trainer.HEADS:
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
        "--split", choices=trainer.SPLITS, default="test", help="split to score (default: test)"
    )
    parser.add_argument("--data-dir", help="TFDS data folder (default: the run's)")
    parser.add_argument("--report", action="store_true", help="print per-class reports too")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def main(argv=None):
    """Entry point; returns 0, or 1 if the metrics differ from the recorded ones."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        metrics, recorded = evaluate_run(
            args.run_dir, args.split, args.data_dir, verbose=not args.json
        )
    except (trainer.RunError, FileNotFoundError) as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps({args.split: metrics}, indent=2))
    else:
        print(trainer.format_scores(metrics, f"{args.split}:"))
        if args.report:
            for head, classes in trainer.HEADS.items():
                print(classification_report(metrics[head], classes, title=f"\n{head}"))
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
