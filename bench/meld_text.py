"""Real MELD text benchmark: MiniLM-L6 text-only, selected on dev, test scored once.

Trains the text-only classifier (``bert`` encoder, preset ``minilm_l6``) on the real
MELD CSVs with ``meld_tf.trainer.train`` once per seed (the best epoch by validation
loss is kept, then dev and test are scored once), and writes ``summary.json`` and
``summary.md`` (tables: per seed, mean and spread, per-class emotion F1, with the
command, machine and date) to the bench folder.

    python bench/meld_text.py                          # 3 seeds, the final configuration
    python bench/meld_text.py --context 0 --seeds 42   # one lever, one seed
    python bench/meld_text.py --quick                  # smoke run: a few hundred rows

A seed whose run folder already holds a finished run (``model.keras``) with the same
config is not trained again: an interrupted benchmark resumes where it stopped.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from meld_tf import calibration, run_folder, trainer  # noqa: E402
from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.labels import EMOTIONS, HEADS  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MANUAL_DIR = os.path.join(os.path.dirname(REPO), "shared", "meld")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "meld_tf")
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
SCORES = ("accuracy", "weighted_f1", "macro_f1")
# --quick: rows per split, epochs, sequence length (a smoke run, not a benchmark).
QUICK = {"max_examples": 192, "epochs": 1, "text_max_length": 32}


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of every epoch (training and validation)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def machine():
    """A one-line description of this machine (CPU model, cores, vector extensions)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    extensions = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}, {os.cpu_count()} cores, {'/'.join(extensions) or 'no AVX'}, no GPU"


def bench_config(args):
    """The ``TrainConfig`` of the benchmark (without seed and run folder)."""
    model = ModelConfig(
        modalities=("text",),
        text_encoder="bert",
        text_preset=args.preset,
        text_pooling=args.pooling,
        text_max_length=args.max_length,
        text_frozen_layers=args.frozen_layers,
        logit_adjustment=args.logit_adjustment,
    )
    config = TrainConfig(
        model=model,
        dataset="text",
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        context=args.context,
        future_context=args.future_context,
        text_template=args.text_template,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        class_weights=args.class_weights,
        early_stopping_patience=args.patience,
        precision=args.precision,
        bucket_by_length=args.bucket_by_length,
    )
    if args.quick:
        config = config.replace(**QUICK)
    return config


def run_seed(config, seed, out):
    """Trains (or reuses) the run of ``seed``; returns its metrics and epoch seconds."""
    run_dir = os.path.join(out, f"seed{seed}")
    config = config.replace(seed=seed, out=run_dir)
    finished = os.path.isfile(os.path.join(run_dir, run_folder.MODEL_FILE))
    saved = finished and TrainConfig.load(os.path.join(run_dir, run_folder.CONFIG_FILE))
    if finished and not run_folder.asks_for(config, saved):  # It records its resolved data.
        raise SystemExit(
            f"{run_dir} holds a finished run with another config; choose another --out."
        )
    timer = EpochTimer()
    if not finished:
        trainer.train(config, callbacks=[timer])
    metrics = run_folder.read_metrics(run_dir)
    seconds = timer.seconds or read_seconds(run_dir)
    with open(os.path.join(run_dir, "epoch_seconds.json"), "w", encoding="utf-8") as file:
        json.dump(seconds, file)
    return {"seed": seed, "run_dir": run_dir, "epoch_seconds": seconds,
            "adjusted": adjusted_scores(run_dir, metrics), **metrics}  # fmt: skip


def adjusted_scores(run_dir, metrics):
    """The emotion head with logit adjustment (`meld_tf.calibration`): ``tau`` chosen on
    dev for macro F1, then test scored with it; dev's own figure is cross-fitted (each half
    with the other half's ``tau``). None for a run without ``predictions.npz``, or trained
    with ``--logit-adjustment`` (its own scores are adjusted already)."""
    if metrics.get("logit_adjustment"):  # Trained with it: its scores are adjusted.
        return None
    try:
        predictions = run_folder.read_predictions(run_dir)
    except run_folder.RunError:
        return None
    counts = [metrics["train_emotion_counts"][emotion] for emotion in EMOTIONS]
    (dev_labels, dev_probabilities), (test_labels, test_probabilities) = (
        (labels["emotion"], probabilities["emotion"])
        for labels, probabilities in (predictions["validation"], predictions["test"])
    )  # fmt: skip
    tau, _ = calibration.choose_tau(dev_labels, dev_probabilities, counts)
    dev_predictions, fold_taus = calibration.cross_fitted(dev_labels, dev_probabilities, counts)
    test_predictions = calibration.adjusted_predictions(
        test_probabilities, calibration.prior_bias(counts, tau)
    )
    classes = len(EMOTIONS)
    return {
        "tau": tau,
        "fold_taus": fold_taus,
        "validation": {name: calibration.score(dev_labels, dev_predictions, classes, name)
                       for name in SCORES},
        "test": {name: calibration.score(test_labels, test_predictions, classes, name)
                 for name in SCORES},
    }  # fmt: skip


def read_seconds(run_dir):
    """Epoch seconds recorded by an earlier bench call (empty if none)."""
    path = os.path.join(run_dir, "epoch_seconds.json")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def mean_std(values):
    """``(mean, sample standard deviation)``; the deviation is 0 for one value."""
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize(runs, config, command):
    """The summary dict of the seeds' runs: per-seed rows and mean/std per score."""
    aggregate = {}
    for split in ("validation", "test"):
        for head in HEADS:
            for score in SCORES:
                values = [run[split][head][score] for run in runs]
                aggregate[f"{split}/{head}/{score}"] = mean_std(values)
    per_class = {
        emotion: mean_std([run["test"]["emotion"]["per_class"][emotion]["f1"] for run in runs])
        for emotion in EMOTIONS
    }
    adjusted = None
    if all(run.get("adjusted") for run in runs):
        adjusted = {
            f"{split}/emotion/{score}": mean_std([run["adjusted"][split][score] for run in runs])
            for split in ("validation", "test") for score in SCORES
        }  # fmt: skip
    train_examples = runs[0]["num_examples"]["train"]
    seconds = [s for run in runs for s in run["epoch_seconds"]]
    return {
        "command": command,
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": config.to_dict(),
        "seeds": [run["seed"] for run in runs],
        "num_examples": runs[0]["num_examples"],
        "seconds_per_epoch": mean_std(seconds) if seconds else None,
        "train_utterances_per_s": train_examples / np.mean(seconds) if seconds else None,
        "aggregate": aggregate,
        "test_emotion_per_class_f1": per_class,
        "adjusted": adjusted,
        "runs": [
            {key: run.get(key) for key in ("seed", "run_dir", "epoch_seconds", "epochs_run",
                                           "best_epoch", "validation", "test", "adjusted")}
            for run in runs
        ],
    }  # fmt: skip


def percent(pair):
    """``"mean ± std"`` in % of a ``(mean, std)`` pair."""
    return f"{100 * pair[0]:.2f} ± {100 * pair[1]:.2f}"


def markdown(summary):
    """Markdown tables of a summary."""
    config = summary["config"]
    model = config["model"]
    lines = [
        f"Command: `{summary['command']}`  ",
        f"Machine: {summary['machine']}; date: {summary['date']}  ",
        f"Configuration: {model['text_preset']}"
        + (f" ({model['text_frozen_layers']} lower layers frozen)"
           if model.get("text_frozen_layers") else "")
        + (f", logit adjustment for dev {model['logit_adjustment']}"
           if model.get("logit_adjustment", "none") != "none" else "")
        + f", {model['text_pooling']} pooling, "
        f"context {config['context']}"
        + (f" + {config['future_context']} next" if config.get("future_context") else "")
        + (f", template `{config['text_template']}`"
           if config.get("text_template", "{text}") != "{text}" else "")
        + f", {model['text_max_length']} tokens, batch "
        f"{config['batch_size']}, lr {config['learning_rate']}, up to {config['epochs']} "
        f"epochs (best by {config.get('monitor', 'val_loss')}), "
        f"class weights {config['class_weights']}, "
        f"{config['precision']}, "
        f"{'length buckets' if config.get('bucket_by_length') else 'fixed length'}; examples "
        f"{summary['num_examples']}",
        "",
        "| seed | epochs | best | s/epoch | dev emo wF1 | test emo acc | test emo wF1 "
        "| test emo mF1 | test sent acc | test sent wF1 | test sent mF1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in summary["runs"]:
        seconds = np.mean(run["epoch_seconds"]) if run["epoch_seconds"] else float("nan")
        cells = [f"{100 * run['validation']['emotion']['weighted_f1']:.2f}"] + [
            f"{100 * run['test'][head][score]:.2f}" for head in HEADS for score in SCORES
        ]
        lines.append(
            f"| {run['seed']} | {run['epochs_run']} | {run['best_epoch']} | {seconds:.0f} | "
            + " | ".join(cells) + " |"
        )  # fmt: skip
    aggregate = summary["aggregate"]
    lines += [
        "",
        f"Mean ± std over {len(summary['runs'])} seed(s) (%):",
        "",
        "| split | head | accuracy | weighted F1 | macro F1 |",
        "|---|---|---|---|---|",
    ]
    for split in ("validation", "test"):
        for head in HEADS:
            cells = [percent(aggregate[f"{split}/{head}/{score}"]) for score in SCORES]
            lines.append(f"| {split} | {head} | " + " | ".join(cells) + " |")
    per_class = summary["test_emotion_per_class_f1"]
    lines += [
        "",
        "Test emotion F1 per class (%, mean ± std):",
        "",
        "| " + " | ".join(EMOTIONS) + " |",
        "|" + "---|" * len(EMOTIONS),
        "| " + " | ".join(percent(per_class[emotion]) for emotion in EMOTIONS) + " |",
    ]
    if summary.get("adjusted"):
        taus = ", ".join(f"{run['adjusted']['tau']:.1f}" for run in summary["runs"])
        lines += [
            "",
            "Emotion with logit adjustment by the train prior (`meld_tf.calibration`; tau "
            f"chosen on dev for macro F1, per seed: {taus}; dev cross-fitted over halves) "
            "(%, mean ± std):",
            "",
            "| split | accuracy | weighted F1 | macro F1 |",
            "|---|---|---|---|",
        ]
        for split in ("validation", "test"):
            cells = [percent(summary["adjusted"][f"{split}/emotion/{score}"]) for score in SCORES]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
    if summary["seconds_per_epoch"]:
        lines += [
            "",
            f"Seconds per epoch (training + dev): {summary['seconds_per_epoch'][0]:.0f}; "
            f"training throughput incl. dev pass: {summary['train_utterances_per_s']:.1f} "
            "utterances/s.",
        ]
    return "\n".join(lines) + "\n"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK} (overrides those flags)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument(
        "--out",
        default="",
        help="bench folder (default: ~/.cache/meld_tf/"
        "bench/<context>-<length>-<pooling>-<precision>)",
    )
    parser.add_argument("--data-dir", default=os.path.join(CACHE, "tfds"))
    parser.add_argument(
        "--manual-dir",
        default=DEFAULT_MANUAL_DIR,
        help="folder of the MELD CSVs (default: <repo>/../shared/meld)",
    )
    parser.add_argument("--preset", default="minilm_l6")
    parser.add_argument("--pooling", default="mean", choices=("mean", "cls"))
    parser.add_argument(
        "--context",
        type=int,
        default=2,
        help="previous utterances ('Speaker: text') as the second segment",
    )
    parser.add_argument(
        "--future-context", type=int, default=0, help="next utterances, after the previous ones"
    )
    parser.add_argument(
        "--text-template", default="{text}", help="the utterance as read, e.g. '{speaker}: {text}'"
    )
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument(
        "--logit-adjustment", default="none", choices=("none", "macro_f1", "weighted_f1"),
        help="in the model: emotion logits shifted by -tau log prior, tau chosen on dev",
    )  # fmt: skip
    parser.add_argument(
        "--frozen-layers", type=int, default=0,
        help="MPNet: lower layers not fine-tuned (--text-frozen-layers)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--class-weights", default="none", choices=("none", "balanced"))
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="fp32, or Keras mixed_bfloat16 (faster only with AVX-512 BF16/AMX)",
    )
    parser.add_argument(
        "--bucket-by-length",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="batches of similar text length, padding trimmed (TrainConfig.bucket_by_length)",
    )
    parser.add_argument(
        "--results", default="", help="also append the Markdown tables to this file"
    )
    return parser


def main(argv=None):
    """Runs the benchmark; returns the summary dict."""
    args = build_parser().parse_args(argv)
    if not os.path.isdir(args.manual_dir):
        raise SystemExit(
            f"MELD CSV folder {args.manual_dir} not found; pass --manual-dir (see "
            "/work/shared/meld/README.md for how to get MELD)."
        )
    config = bench_config(args)
    parts = [
        "" if args.preset == "minilm_l6" else args.preset,
        f"ctx{config.context}",
        f"next{config.future_context}" if config.future_context else "",
        "template" + hashlib.sha1(args.text_template.encode()).hexdigest()[:6]
        if args.text_template != "{text}" else "",
        f"len{config.model.text_max_length}", config.model.text_pooling, args.precision,
        f"frozen{args.frozen_layers}" if args.frozen_layers else "",
        "" if args.logit_adjustment == "none" else f"adjusted-{args.logit_adjustment}",
        "" if args.bucket_by_length else "fixed",
        "quick" if args.quick else "",
    ]  # fmt: skip
    name = "-".join(part for part in parts if part)
    out = args.out or os.path.join(CACHE, "bench", name)
    os.makedirs(out, exist_ok=True)
    runs = [run_seed(config, seed, out) for seed in args.seeds]
    command = "python bench/meld_text.py " + " ".join(argv if argv is not None else sys.argv[1:])
    summary = summarize(runs, config, command.strip())
    text = markdown(summary)
    with open(os.path.join(out, SUMMARY_JSON), "w", encoding="utf-8") as file:
        json.dump(summary, file, indent=2)
    with open(os.path.join(out, SUMMARY_MD), "w", encoding="utf-8") as file:
        file.write(text)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as file:
            file.write("\n" + text)
    print(text)
    print(f"Saved to {out}")
    return summary


if __name__ == "__main__":
    main()
