"""The README's sample table: every model trained from scratch, beside the sample's ceilings.

Each row is `python -m meld_tf.train` with the default flags except the row's modalities,
encoder and fusion (and ``--epochs`` and the video geometry, the same for every row), on
the sample generated with ``--dialogues`` dialogues (120: 255 test utterances), for each
seed. The ceiling of a row is the accuracy of the Bayes decision from what its modalities
show (`meld_tf.data.sample_oracle`). The fused model trained with modality dropout is also
scored with each modality masked at test (`meld_tf.evaluate --drop-modality`), beside the
model trained on the other two.

    python bench/sample_scores.py                      # 3 seeds, writes the README's table
    python bench/sample_scores.py --seeds 1 --rows audio "video (conv3d)"
    python bench/sample_scores.py --quick --out /tmp/t.md   # smoke run (CI)
    python bench/sample_scores.py --jobs 2             # two runs at a time, a core each

``--jobs N`` trains N runs at a time, each with ``cores / N`` TensorFlow threads: small models
may use one core each better than both together; which is faster depends on the machine
(time ``--seeds 1 2 --rows audio --epochs 2`` with ``--jobs 1`` and ``--jobs 2``).

Runs are kept in ``--work-dir`` (one folder per row and seed): an interrupted benchmark
resumes where it stopped (an interrupted run resumes at its next epoch), and a run is not
trained again unless the code that trains it (`code_version`: the sources of ``meld_tf`` and
``tfds_meld``) or its flags have changed since it started. A run that stopped early is
reused under a larger ``--epochs``: it would stop at the same epoch.
"""

import argparse
import ast
import concurrent.futures
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import time

import tensorflow as tf

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from meld_text import machine  # noqa: E402

from meld_tf.data.sample_oracle import bayes_accuracy  # noqa: E402
from meld_tf.dataset import prepare_meld  # noqa: E402
from meld_tf.run_folder import CONFIG_FILE, asks_for, read_metrics  # noqa: E402
from meld_tf.train import build_parser as train_parser  # noqa: E402
from meld_tf.train import config_from_args  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402
from meld_tf.trainer import run_config  # noqa: E402

MARK_START, MARK_END = "<!-- sample-scores:start -->", "<!-- sample-scores:end -->"
ALL = ("text", "audio", "video")
# name -> (modalities, extra flags); every other flag is the default.
ROWS = {
    "text (BiLSTM)": (("text",), ["--text-encoder", "bilstm"]),
    "text (BERT, MiniLM)": (("text",), []),
    "audio": (("audio",), []),
    "video (resnet18)": (("video",), []),
    "video (conv3d)": (("video",), ["--video-encoder", "conv3d"]),
    "text+audio+video, attention": (ALL, ["--fusion", "attention"]),
    "text+audio+video, attention, modality dropout 0.3": (
        ALL, ["--fusion", "attention", "--modality-dropout", "0.3"]),
    "text+audio, attention": (("text", "audio"), ["--fusion", "attention"]),
    "text+video, attention": (("text", "video"), ["--fusion", "attention"]),
    "audio+video, attention": (("audio", "video"), ["--fusion", "attention"]),
}
DROPOUT_ROW = "text+audio+video, attention, modality dropout 0.3"
PAIR_ROWS = {"text": "audio+video, attention", "audio": "text+video, attention",
             "video": "text+audio, attention"}  # masked modality -> model without it
QUICK_ROWS = ("text (BiLSTM)", "audio")


CODE_FILE = "code_version.txt"  # in a run's folder, written before it trains


def code_version():
    """A hash of the code that trains and scores a run (``meld_tf``, ``tfds_meld``): of each
    module's syntax tree without its docstrings, so that comments and docs do not count."""
    digest = hashlib.sha256()
    for package in ("meld_tf", "tfds_meld"):
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    node.body = body[1:] or [ast.Pass()]
            digest.update(str(path.relative_to(REPO)).encode() + ast.dump(tree).encode())
    return digest.hexdigest()[:12]


def run_dir(work, row, seed):
    slug = "".join(c if c.isalnum() else "-" for c in row).strip("-")
    return work / "runs" / f"{slug}-seed{seed}"


def train_flags(row, seed, args, work):
    """The ``python -m meld_tf.train`` flags of one row and seed."""
    modalities, flags = ROWS[row]
    return [
        "--modalities", *modalities, *flags, "--dataset", args.dataset, "--data-dir",
        str(work / "data"), "--epochs", str(args.epochs), "--frame-size", str(args.frame_size),
        "--num-frames", str(args.num_frames), "--seed", str(seed),
        "--out", str(run_dir(work, row, seed)), *args.extra,
    ]  # fmt: skip


def train_request(flags):
    """The ``TrainConfig`` that ``meld_tf.train`` with ``flags`` trains, as its run records
    it (precision made concrete, absolute data folder)."""
    config = config_from_args(train_parser().parse_args(flags))
    return run_config(config, tf.distribute.get_strategy(), verbose=False)


def reusable(out, request):
    """Whether the finished run in ``out`` is what ``request`` (a ``TrainConfig``) would
    train: the same config, or one whose only difference is its epoch cap and that stopped
    early, before both caps (the epochs it ran do not depend on the cap)."""
    metrics = read_metrics(out)
    config_path = out / CONFIG_FILE
    if not metrics or not config_path.is_file():
        return False
    saved = TrainConfig.load(str(config_path))
    ran = metrics["epochs_run"]
    same_cap = saved.epochs == request.epochs
    stopped_early = ran < saved.epochs and ran <= request.epochs
    return (same_cap or stopped_early) and asks_for(request.replace(epochs=saved.epochs), saved)


def train(row, seed, args, work):
    """Trains one row for one seed (unless done); returns its run folder."""
    out = run_dir(work, row, seed)
    flags = train_flags(row, seed, args, work)
    request = train_request(flags)
    if out.exists():
        code = (out / CODE_FILE).read_text().strip() if (out / CODE_FILE).is_file() else "?"
        if code != args.code:
            print(f"{row}, seed {seed}: started by other code ({code}); training again.")
            shutil.rmtree(out)
        elif read_metrics(out):
            if reusable(out, request):
                return out
            print(f"{row}, seed {seed}: finished with other flags; training again.")
            shutil.rmtree(out)
        elif (out / CONFIG_FILE).is_file() and not asks_for(
                request, TrainConfig.load(str(out / CONFIG_FILE))):
            print(f"{row}, seed {seed}: interrupted with other flags; training again.")
            shutil.rmtree(out)
        # else: interrupted under this code and flags; the same command resumes it.
    out.mkdir(parents=True, exist_ok=True)
    (out / CODE_FILE).write_text(args.code + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] {row}, seed {seed}", flush=True)
    log = work / "logs" / f"{out.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as file:
        done = subprocess.run([sys.executable, "-m", "meld_tf.train", *flags], stdout=file,
                              stderr=subprocess.STDOUT, cwd=REPO, env=thread_env(args.jobs))
    if done.returncode:
        raise RuntimeError(f"{row}, seed {seed} failed (exit {done.returncode}); see {log}")
    print(f"[{time.strftime('%H:%M:%S')}] {row}, seed {seed}: done", flush=True)
    return out


def thread_env(jobs):
    """The environment of a run when ``jobs`` runs share the machine: its share of the cores
    for TensorFlow's and oneDNN's thread pools."""
    env = dict(os.environ)
    if jobs > 1:
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        env.update(TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads,
                   OMP_NUM_THREADS=threads)
    return env


def train_all(args, work):
    """Trains every row of every seed not done yet, ``args.jobs`` at a time: every row of a
    seed before the next seed's, so that an interrupted benchmark has whole tables early."""
    prepare_meld(args.dataset, str(work / "data"))  # once, before runs that would race
    todo = [(row, seed) for seed in args.seeds for row in args.rows]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(train, row, seed, args, work) for row, seed in todo]:
            try:
                future.result()
            except RuntimeError as error:
                pool.shutdown(cancel_futures=True)
                sys.exit(str(error))


def test_scores(out, drop=()):
    """``(emotion accuracy, emotion weighted F1, sentiment weighted F1)`` on test, in %."""
    if drop:
        from meld_tf.evaluate import evaluate_run

        metrics, _ = evaluate_run(str(out), "test", verbose=False, drop=drop)
    else:
        metrics = read_metrics(out)["test"]
    return tuple(100 * metrics[head][score] for head, score in (
        ("emotion", "accuracy"), ("emotion", "weighted_f1"), ("sentiment", "weighted_f1")))


def mean_std(values):
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5
    return mean, std


def cell(values):
    mean, std = mean_std(values)
    return f"{mean:.1f} ± {std:.1f}" if len(values) > 1 else f"{mean:.1f}"


def table(results, ceilings, args):
    """The markdown table and the issue's checks, from ``results[(row, drop)] = [scores]``."""
    lines = ["| model | ceiling (acc) | emotion acc | emotion wF1 | sentiment wF1 |",
             "|---|---|---|---|---|"]
    for (row, drop), runs in results.items():
        name = row if not drop else f"{row}, {drop} masked at test"
        ceiling = ceilings[(row, drop)]
        lines.append(f"| {name} | {100 * ceiling:.1f} | "
                     + " | ".join(cell([r[i] for r in runs]) for i in range(3)) + " |")
    checks = []
    acc = {key: mean_std([r[0] for r in runs])[0] for key, runs in results.items()}
    for key, value in acc.items():
        if not key[1] and key[0] in ROWS and len(ROWS[key[0]][0]) == 1:
            target = 100 * ceilings[key] - 8
            checks.append(f"{key[0]}: {value:.1f} vs ceiling - 8 = {target:.1f}: "
                          f"{'met' if value >= target else 'NOT met'}")
    fused = ("text+audio+video, attention", "")
    singles = [v for k, v in acc.items() if not k[1] and len(ROWS[k[0]][0]) == 1]
    if fused in acc and singles:
        margin = acc[fused] - max(singles)
        gap = 100 * ceilings[fused] - acc[fused]
        checks.append(f"fusion - best single modality = {margin:+.1f} (target >= +8): "
                      f"{'met' if margin >= 8 else 'NOT met'}")
        checks.append(f"fused ceiling - fusion = {gap:.1f} (target <= 8): "
                      f"{'met' if gap <= 8 else 'NOT met'}")
    for modality, pair in PAIR_ROWS.items():
        masked = (DROPOUT_ROW, modality)
        if masked in acc and (pair, "") in acc:
            diff = acc[(pair, "")] - acc[masked]
            checks.append(f"{modality} masked vs {pair}: {diff:+.1f} behind (target <= 3): "
                          f"{'met' if diff <= 3 else 'NOT met'}")
    return lines, checks


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=120, help="sample size (120: 255 test)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--frame-size", type=int, default=32)
    parser.add_argument("--num-frames", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at a time (each gets cores / jobs threads)")
    parser.add_argument("--work-dir", default="~/.cache/meld_tf/bench/sample_scores")
    parser.add_argument("--out", default=str(REPO / "README.md"),
                        help="file whose sample-scores section is rewritten (README.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 rows, 1 seed, 1 epoch, the smallest sample")
    parser.add_argument("extra", nargs="*", help="more train flags, after --")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quick:
        args.dialogues, args.seeds, args.epochs = 5, [1], 1
        args.rows = list(QUICK_ROWS)
    args.dataset = f"sample_{args.dialogues}d_s0"
    args.code = code_version()
    work = pathlib.Path(args.work_dir).expanduser() / args.dataset
    start = time.perf_counter()
    results, ceilings = {}, {}
    train_all(args, work)
    for row in args.rows:
        modalities = ROWS[row][0]
        ceilings[(row, "")] = bayes_accuracy(modalities, num_dialogues=args.dialogues)
        runs = [train(row, seed, args, work) for seed in args.seeds]
        results[(row, "")] = [test_scores(out) for out in runs]
        if row == DROPOUT_ROW:
            for modality in ALL:
                rest = tuple(m for m in ALL if m != modality)
                ceilings[(row, modality)] = bayes_accuracy(rest, num_dialogues=args.dialogues)
                results[(row, modality)] = [test_scores(out, (modality,)) for out in runs]
    lines, checks = table(results, ceilings, args)
    minutes = (time.perf_counter() - start) / 60
    command = "python bench/sample_scores.py " + (" ".join(argv or sys.argv[1:]) or "")
    section = [
        MARK_START,
        f"Test split of `{args.dataset}` (the sample generated with {args.dialogues} "
        f"dialogues), mean ± std over seeds {', '.join(map(str, args.seeds))}; "
        f"`--epochs {args.epochs} --frame-size {args.frame_size} --num-frames "
        f"{args.num_frames}` and the row's modalities, encoder and fusion, every other flag "
        "the default. Ceiling: the accuracy of the Bayes decision from what the row's "
        "modalities show (`meld_tf.data.sample_oracle`).",
        "",
        *lines,
        "",
        "Checks: " + "; ".join(checks) + "." if checks else "",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')}, {machine()}, code version "
        f"{args.code}; {minutes:.0f} min wall (runs already done by this code are reused).",
        MARK_END,
    ]
    print("\n".join(section))
    out = pathlib.Path(args.out)
    text = out.read_text(encoding="utf-8") if out.is_file() else f"{MARK_START}\n{MARK_END}\n"
    if MARK_START not in text:
        sys.exit(f"{out} has no {MARK_START} ... {MARK_END} section to rewrite.")
    head, rest = text.split(MARK_START, 1)
    tail = rest.split(MARK_END, 1)[1]
    out.write_text(head + "\n".join(section) + tail, encoding="utf-8")
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
