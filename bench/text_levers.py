"""Levers of the real MELD text recipe, in paired dev runs: one change each from a base.

Every lever is ``bench/meld_text.py`` with the base's flags plus its own, trained with the
same seed (the same initial weights and, with the same batches, the same data order), and
scored on dev only; test is not looked at here. The base's history gives the epochs lever
(dev after each epoch) and its dev probabilities the logit adjustment (no training: the
prior-adjusted decision, ``tau`` cross-fitted over two halves of dev,
`meld_tf.calibration`). The table goes to ``--results`` between markers, with the command,
machine and date; a lever not run yet reads "not run".

    python bench/text_levers.py --results bench/RESULTS.md            # every lever, in order
    python bench/text_levers.py --levers base "speaker name" --results bench/RESULTS.md

Runs live in ``--work-dir/<lever>/seed<seed>``: an interrupted lever resumes at its next
epoch, a finished one is read back, so the table grows across sessions.
"""

import argparse
import datetime
import os
import shlex
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "bench")]

import meld_text  # noqa: E402
from results_file import command_line, publish  # noqa: E402

from meld_tf import run_folder  # noqa: E402

MARK_START, MARK_END = "<!-- text-levers:start -->", "<!-- text-levers:end -->"
# Flags of every lever's run: 128 tokens, so that longer contexts are not cut (length
# buckets make the rare long batch the only one to pay for it).
BASE = ["--context", "2", "--max-length", "128", "--epochs", "4", "--patience", "2"]
# name -> the flags it adds to BASE (a later flag wins), in the order they are run.
LEVERS = {
    "base": [],
    "speaker name": ["--text-template", "{speaker}: {text}"],
    "future context 1": ["--future-context", "1"],
    "lr 1e-4": ["--lr", "1e-4"],
    "context 4": ["--context", "4"],
    "class weights balanced": ["--class-weights", "balanced"],
    "prompt": ["--text-template", "{speaker}: {text} Now {speaker} feels"],
    "context 1": ["--context", "1"],
    "epochs 8": ["--epochs", "8", "--patience", "3"],
    "fixed length": ["--no-bucket-by-length"],
}
SCORES = (("emotion", "weighted_f1"), ("emotion", "macro_f1"), ("sentiment", "weighted_f1"))


def run_lever(name, args):
    """The run record of lever ``name`` (trained now unless finished)."""
    argv = BASE + LEVERS[name] + ["--seeds", str(args.seed), "--manual-dir", args.manual_dir]
    bench_args = meld_text.build_parser().parse_args(argv)
    config = meld_text.bench_config(bench_args)
    print(f"== {name}: {' '.join(LEVERS[name]) or '(base)'}", flush=True)
    return meld_text.run_seed(config, args.seed, os.path.join(args.work_dir, slug(name)))


def slug(name):
    return "".join(c if c.isalnum() else "-" for c in name)


def finished(name, args):
    """The record of a lever whose run finished, else None (nothing is trained)."""
    run_dir = os.path.join(args.work_dir, slug(name), f"seed{args.seed}")
    if not os.path.isfile(os.path.join(run_dir, run_folder.MODEL_FILE)):
        return None
    metrics = run_folder.read_metrics(run_dir)
    return {"run_dir": run_dir, "epoch_seconds": meld_text.read_seconds(run_dir),
            "adjusted": meld_text.adjusted_scores(run_dir, metrics), **metrics}  # fmt: skip


def dev_cells(record):
    return [f"{100 * record['validation'][head][score]:.2f}" for head, score in SCORES]


def table(records, args, command):
    """The Markdown section of the lever table."""
    base = records.get("base")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        MARK_START,
        "## Levers of the text recipe (dev, paired: one seed, one change each)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {meld_text.machine()}; date: {date}  ",
        f"Every run: `python bench/meld_text.py {' '.join(BASE)} --seeds {args.seed}` plus the "
        "lever's flags (MiniLM-L6, mean pooling, batch 32, lr 5e-5, best epoch by dev emotion "
        "weighted F1). Dev only; Δ against the base, same seed. No speeds here: these runs "
        "may share the CPU with other work (the speed benchmarks are paired).",
        "",
        "| lever | flags | epochs (best) | dev emo wF1 | dev emo mF1 | dev sent wF1 "
        "| Δ emo wF1 | Δ sent wF1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, flags in LEVERS.items():
        record = records.get(name)
        shown = f"`{shlex.join(flags)}`" if flags else ""
        if record is None:
            lines.append(f"| {name} | {shown} | not run | | | | | |")
            continue
        deltas = ["", ""]
        if base is not None and name != "base":
            deltas = [
                f"{100 * (record['validation'][h][s] - base['validation'][h][s]):+.2f}"
                for h, s in (SCORES[0], SCORES[2])
            ]
        lines.append(
            f"| {name} | {shown} | {record['epochs_run']} ({record['best_epoch']}) | "
            + " | ".join(dev_cells(record) + deltas) + " |"
        )
    if base is not None:
        history = run_folder.read_history(base["run_dir"])
        curve = " / ".join(f"{100 * float(row['val_emotion_weighted_f1']):.2f}"
                           for row in history)  # fmt: skip
        lines += ["", f"Base, dev emotion weighted F1 after each epoch: {curve}."]
        adjusted = base.get("adjusted")
        if adjusted:
            taus = " and ".join(f"{tau:.1f}" for tau in adjusted["fold_taus"])
            dev = adjusted["validation"]
            lines += [
                "",
                "Base + logit adjustment by the train prior (no training; each half of dev "
                f"scored with the tau chosen on the other half for macro F1: {taus}): dev "
                f"emotion weighted F1 {100 * dev['weighted_f1']:.2f}, macro F1 "
                f"{100 * dev['macro_f1']:.2f} (base: "
                + " / ".join(dev_cells(base)[:2]) + ").",
            ]
    return "\n".join(lines + [MARK_END]) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--manual-dir", default=meld_text.DEFAULT_MANUAL_DIR)
    parser.add_argument(
        "--work-dir", default=os.path.join(meld_text.CACHE, "bench", "text_levers")
    )
    parser.add_argument("--table-only", action="store_true",
                        help="write the table of the finished levers; train nothing")  # fmt: skip
    parser.add_argument("--results", default="", help="write the table into this file")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    records = {name: finished(name, args) for name in LEVERS}
    if not args.table_only:
        for name in args.levers:
            records[name] = run_lever(name, args)
    command = command_line("text_levers.py", argv)
    text = table({k: v for k, v in records.items() if v is not None}, args, command)
    publish(text, args.results, MARK_START, MARK_END)
    return records


if __name__ == "__main__":
    main()
