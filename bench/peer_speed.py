"""meld-tf against its PyTorch peer: training and inference speed on the same real MELD data.

The peer (``bench/peer_torch.py``) is Hugging Face transformers on PyTorch: the same
weights, mean pooling and heads, batches of the Trainer's ``group_by_length`` with dynamic
padding. It runs in a venv of its own, never a dependency of meld-tf or of CI:

    python3 -m venv ~/.venvs/meld-peer
    ~/.venvs/meld-peer/bin/pip install -r bench/requirements-peer.txt
    python bench/peer_speed.py --peer-python ~/.venvs/meld-peer/bin/python

For each context and precision (bf16: Keras ``mixed_bfloat16`` / ``torch.autocast``),
meld-tf's models and batches come from ``meld_tf`` itself: a default run (fixed padding
to ``--max-length``) and ``--bucket-by-length``. One epoch of training batches is made on
each side; the timed batches are ``--steps`` full batches at evenly spaced quantiles of
their padded length, so that their tokens stand for the epoch's. Measurements alternate
(meld-tf fixed, peer, meld-tf buckets, peer on meld-tf's bucketed batches) ``--repeats``
times, after one untimed pass that traces every shape. Inference (fp32) alternates too.
The section between the markers in ``--results`` (default ``bench/RESULTS.md``; none
with ``--quick``) is rewritten. ``--no-peer`` measures meld-tf alone.

Measure on an idle machine: on a busy one, PyTorch's OpenMP threads wait on each other
(a MiniLM step was 9x slower with 2 threads than with 1 on 2 busy cores), and the ratios
say more about the load than the frameworks; ``--threads N`` sets both sides' threads.
``--quick`` takes the first rows of each split: most of their dialogue contexts are empty.
"""

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from meld_tf import trainer  # noqa: E402
from meld_tf.batching import batches as make_batches  # noqa: E402
from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.models.presets import minilm_dir  # noqa: E402
from meld_tf.preprocessing import (  # noqa: E402
    MeldPreprocessor,
    context_key,
    dialogue_contexts,
    split_metadata,
)
from meld_tf.run_data import load_splits  # noqa: E402
from meld_tf.serving import Serving  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from meld_text import CACHE, DEFAULT_MANUAL_DIR  # noqa: E402
from results_file import RESULTS, write_section  # noqa: E402
from text_speed import StepTimer  # noqa: E402

START, END = "<!-- peer-speed:start -->", "<!-- peer-speed:end -->"
QUICK = {"examples": 256, "steps": 2, "warmup": 2, "repeats": 1, "latency_calls": 3,
         "batches64": 1}  # fmt: skip
SIDES = ("tf_fixed", "peer", "tf_buckets", "peer_same")  # the order of the measurements
COLUMNS = ("tf_fixed", "tf_buckets", "peer", "peer_same")
NAMES = {"tf_fixed": "meld-tf, fixed length", "tf_buckets": "meld-tf, `--bucket-by-length`",
         "peer": "peer"}  # fmt: skip
RATIOS = {"fixed / peer": ("tf_fixed", "peer"), "buckets / peer": ("tf_buckets", "peer"),
          "buckets / peer, same batches": ("tf_buckets", "peer_same")}  # fmt: skip


class PeerError(Exception):
    """The peer venv is missing, or its process stopped."""


class Peer:
    """The ``peer_torch.py`` process: one JSON line per command and per answer."""

    def __init__(self, python, args):
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise PeerError(f"no peer python at {python!r}: make the peer venv (see "
                            "bench/requirements-peer.txt) or pass --no-peer")  # fmt: skip
        command = [python, os.path.join(BENCH_DIR, "peer_torch.py"), "--model-dir",
                   minilm_dir(), "--max-length", str(args.max_length), "--batch-size",
                   str(args.batch_size), "--threads", str(args.threads)]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.info = self.read()

    def read(self):
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise PeerError(f"the peer stopped (exit {code}); its messages are above")
        return json.loads(line)

    def ask(self, op, **command):
        self.process.stdin.write(json.dumps(dict(command, op=op)) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write('{"op": "quit"}\n')
            self.process.stdin.close()
            self.process.wait()


def window(shapes, steps):
    """Indices of ``steps`` batches at evenly spaced quantiles of padded length (of the
    full batches if there are enough), in a fixed shuffled order; ``shapes``: [size, length]."""
    full = [i for i, (n, _) in enumerate(shapes) if n == max(s[0] for s in shapes)]
    pool = sorted(full if len(full) >= steps else range(len(shapes)), key=lambda i: shapes[i][1])
    picks = [pool[int((k + 0.5) * len(pool) / steps)] for k in range(steps)]
    return random.Random(0).sample(picks, len(picks))


def tokens(shapes, indices=None):
    """Tokens computed per utterance, padding included, over the batches ``indices``."""
    chosen = [shapes[i] for i in (range(len(shapes)) if indices is None else indices)]
    return sum(n * length for n, length in chosen) / sum(n for n, _ in chosen)


def make_config(args, context, mixed, buckets, batch_size=None):
    model = ModelConfig(modalities=("text",), text_preset=args.preset,
                        text_max_length=args.max_length)  # fmt: skip
    return TrainConfig(model=model, dataset="text", data_dir=args.data_dir,
                       manual_dir=args.manual_dir, batch_size=batch_size or args.batch_size,
                       context=context, max_examples=args.examples,
                       precision="bf16" if mixed else "fp32",
                       bucket_by_length=buckets)  # fmt: skip


def prepare(args, context, workdir):
    """meld-tf's tokenized splits and epoch of batches for one context; the peer's texts
    (``[text, context, emotion, sentiment]``, JSON) and meld-tf's timed bucketed batches."""
    config = make_config(args, context, False, False)
    splits = load_splits(config)
    preprocessor = MeldPreprocessor.from_config(config)
    data = {"preprocessor": preprocessor, "examples": os.path.join(workdir, f"c{context}.json")}
    texts = {}
    for name in ("train", "test"):
        rows = split_metadata(splits[name])
        data[name] = preprocessor.preprocess(splits[name], name, rows if context else None)
        contexts = dialogue_contexts(rows, context) if context else {}
        labels = [(int(y["emotion"].argmax()), int(y["sentiment"].argmax()))
                  for _, y in data[name].as_numpy_iterator()]  # fmt: skip
        texts[name] = [[text, contexts[context_key(d, u)] if context else None, *label]
                       for (d, u, _, text), label in zip(rows, labels)]  # fmt: skip
    data["lengths"] = [int(x["text_padding_mask"].sum()) for x, _ in data["train"]
                       .as_numpy_iterator()]  # fmt: skip
    data["real_tokens"], data["test_texts"] = float(np.mean(data["lengths"])), texts["test"]
    with open(data["examples"], "w", encoding="utf-8") as file:
        json.dump(texts, file)
    for kind, buckets in (("fixed", False), ("buckets", True)):
        config = make_config(args, context, False, buckets)
        epoch = make_batches(data["train"], config, training=True)
        batches = list(epoch.as_numpy_iterator())
        shapes = [list(x["text_token_ids"].shape) for x, _ in batches]
        data[kind] = {"spec": epoch.element_spec, "batches": batches, "shapes": shapes,
                      "window": window(shapes, args.steps)}  # fmt: skip
    arrays = {"count": args.steps}
    for i, index in enumerate(data["buckets"]["window"]):
        x, y = data["buckets"]["batches"][index]
        arrays.update({f"ids{i}": x["text_token_ids"], f"segments{i}": x["text_segment_ids"],
                       f"mask{i}": x["text_padding_mask"], f"emotion{i}": y["emotion"].argmax(-1),
                       f"sentiment{i}": y["sentiment"].argmax(-1)})  # fmt: skip
    data["same"] = os.path.join(workdir, f"c{context}_same.npz")
    np.savez(data["same"], **arrays)
    return data


def tf_train(model, part, warmup):
    """Utterances/s of ``model.fit`` on the timed batches of ``part``, after ``warmup`` of them."""
    batches = [part["batches"][i] for i in part["window"]]
    run = batches[:warmup] + batches
    # Repeated, with a step count: a step cut short by the end of the data leaks Grappler's
    # per-step temporary variables, and the next fit fails ("AlreadyExistsError").
    data = tf.data.Dataset.from_generator(lambda: iter(run), output_signature=part["spec"])
    timer, start = StepTimer(), time.perf_counter()
    model.fit(data.repeat(), epochs=1, steps_per_epoch=len(run), verbose=0, callbacks=[timer])
    begin = timer.times[warmup - 1] if warmup else start
    return sum(len(y["emotion"]) for _, y in batches) / (timer.times[-1] - begin)


def tf_latency(model, preprocessor, texts, n):
    """Seconds of ``n`` calls on one test utterance each, as ``meld_tf.predict`` answers it:
    the run's serving function (`meld_tf.serving`), tokenisation included."""
    serving = Serving(preprocessor.config, model, preprocessor)
    seconds = []
    for i in range(2 * n):  # The first pass untimed: every shape traced.
        text, context, _, _ = texts[i % n % len(texts)]
        inputs = {"text": np.array([text], object)}
        if preprocessor.config.context > 0:
            inputs["context"] = np.array([context or ""], object)
        start = time.perf_counter()
        np.asarray(serving(**inputs)["emotion"])
        if i >= n:
            seconds.append(time.perf_counter() - start)
    return seconds


def tf_batch64(model, preprocessor, test, n):
    """Utterances/s of ``predict_on_batch`` on ``n`` batches of 64 test utterances."""
    data = make_batches(test, preprocessor.config).map(lambda x, y: x)
    batches = list(data.repeat().take(n))
    for batch in batches:  # Untimed: every shape traced.
        model.predict_on_batch(batch)
    start = time.perf_counter()
    for batch in batches:
        model.predict_on_batch(batch)
    return sum(len(b["text_token_ids"]) for b in batches) / (time.perf_counter() - start)


def measure_row(args, context, bf16, data, peer):
    """Interleaved training speeds of one context and precision; and the two models."""
    keras.backend.clear_session()
    models = {}
    for kind in ("fixed", "buckets"):
        config = make_config(args, context, bf16, kind == "buckets")
        keras.utils.set_random_seed(config.seed)
        models[kind] = trainer.build_model(config)
        models[kind].compile()
    peer_window = window(data["peer_shapes"], args.steps) if peer else None
    train = {"indices": peer_window, "warmup": args.warmup, "bf16": bf16}
    measures = {
        "tf_fixed": lambda: tf_train(models["fixed"], data["fixed"], args.warmup),
        "peer": lambda: peer.ask("train", **train)["utterances_per_s"],
        "tf_buckets": lambda: tf_train(models["buckets"], data["buckets"], args.warmup),
        "peer_same": lambda: peer.ask("train", **dict(train, indices=None, same=data["same"]))[
            "utterances_per_s"],
    }  # fmt: skip
    sides = [side for side in SIDES if peer or not side.startswith("peer")]
    for side in sides if not args.quick else ():  # Untimed: every shape traced (--quick:
        # only its warm-up steps, which are all of its timed batches).
        measures[side]()
    rates = {side: [] for side in sides}
    name = f"context {context} {'bf16' if bf16 else 'fp32'}"
    for repeat in range(args.repeats):
        for side in sides:
            rates[side].append(measures[side]())
            print(f"{name} #{repeat + 1} {side:>10}: {rates[side][-1]:6.1f} utt/s", flush=True)
    row = {"context": context, "precision": "bf16" if bf16 else "fp32", "ratios": {},
           "utterances_per_s": {side: float(np.median(r)) for side, r in rates.items()},
           "timed_tokens": {f"tf_{kind}": tokens(data[kind]["shapes"], data[kind]["window"])
                            for kind in ("fixed", "buckets")}}  # fmt: skip
    for ratio, (a, b) in RATIOS.items():
        if b in rates:
            values = [x / y for x, y in zip(rates[a], rates[b])]
            row["ratios"][ratio] = [float(np.median(values)), min(values), max(values)]
    if peer:
        row["timed_tokens"]["peer"] = tokens(data["peer_shapes"], peer_window)
    return row, models


def inference(args, context, data, models, peer):
    """Interleaved one-utterance latency and batch-64 throughput (fp32 models)."""
    sides = ("tf_fixed", "tf_buckets") + (("peer",) if peer else ())
    results = {side: {"seconds": [], "batch64": []} for side in sides}
    for _ in range(args.repeats):
        for kind in ("fixed", "buckets"):
            preprocessor, side = data[f"{kind}_64"], results[f"tf_{kind}"]
            side["seconds"] += tf_latency(models[kind], preprocessor, data["test_texts"],
                                          args.latency_calls)  # fmt: skip
            side["batch64"].append(tf_batch64(models[kind], preprocessor, data["test"],
                                              args.batches64))  # fmt: skip
            if peer and kind == "fixed":
                results["peer"]["seconds"] += peer.ask("latency", n=args.latency_calls)["seconds"]
                rate = peer.ask("batch64", n=args.batches64)["utterances_per_s"]
                results["peer"]["batch64"].append(rate)
    return {side: {"latency_ms_p50": 1000 * float(np.percentile(r["seconds"], 50)),
                   "latency_ms_p95": 1000 * float(np.percentile(r["seconds"], 95)),
                   "batch64_utterances_per_s": float(np.median(r["batch64"]))}
            for side, r in results.items()}  # fmt: skip


def cpu():
    """``lscpu``'s model name and the CPU's avx2, avx512* and amx* flags."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    pairs = (line.partition(":") for line in text.splitlines())
    info = {key.strip(): value.strip() for key, _, value in pairs}
    flags = [f for f in info.get("Flags", "").split() if f.startswith(("avx2", "avx512", "amx"))]
    return info.get("Model name", "?"), flags


def markdown(results):
    """The RESULTS.md section, markers included."""

    def number(value):
        return "–" if value is None else f"{value:.1f}"

    def ratio(row, name):
        r = row["ratios"].get(name)
        return "–" if r is None else f"**{r[0]:.2f}** ({r[1]:.2f}-{r[2]:.2f})"

    load = results["load_average_start"]
    busy = " (**measured while the machine was busy**)" if load[0] > 1.5 else ""
    model, flags = results["cpu"]
    flags = " ".join(flags) or "none of AVX2, AVX-512, AMX"
    lines = [
        START, "## meld-tf vs its PyTorch peer", "",
        f"`{results['command']}` ({results['date']}; {results['versions']}).", "",
        f"CPU: {model}, {os.cpu_count()} cores; flags: {flags}. Load average at start "
        f"{load[0]:.2f}{busy}, at the end {results['load_average_end'][0]:.2f}.", "",
        f"Training, {results['preset']}, real MELD training batches of "
        f"{results['batch_size']} utterances, at most {results['max_length']} tokens: "
        "utterances/s (median of the repeats) and meld-tf / peer (median, min-max; each "
        "ratio from a pair measured back to back):", "",
        "| context | precision | meld-tf fixed | meld-tf buckets | peer | peer, meld-tf's "
        "bucketed batches | " + " | ".join(RATIOS) + " |", "|---" * (6 + len(RATIOS)) + "|",
    ]  # fmt: skip
    for row in results["training"]:
        cells = [number(row["utterances_per_s"].get(side)) for side in COLUMNS]
        cells += [ratio(row, name) for name in RATIOS]
        lines.append(f"| {row['context']} | {row['precision']} | " + " | ".join(cells) + " |")
    lines += [
        "", "Tokens per utterance (real: without padding; epoch: computed over one epoch's "
        "batches, padding included; timed: over the timed batches):", "",
        "| context | real, meld-tf / peer | epoch: fixed / buckets / peer | timed: fixed / "
        "buckets / peer |", "|---|---|---|---|",
    ]  # fmt: skip
    for t in results["tokens"]:
        timed = " / ".join(number(t["timed"].get(s)) for s in ("tf_fixed", "tf_buckets", "peer"))
        real = f"{number(t['real_tf'])} / {number(t.get('real_peer'))}"
        if "same_length" in t:
            real += f" ({100 * t['same_length']:.1f}% of utterances of equal length)"
        epoch = " / ".join(number(t.get(f"epoch_{s}")) for s in ("tf_fixed", "tf_buckets", "peer"))
        lines.append(f"| {t['context']} | {real} | {epoch} | {timed} |")
    lines += [
        "", "Inference (fp32): one test utterance at a time, tokenization included; batches "
        "of 64 test utterances, tokenized beforehand:", "",
        "| context | side | latency p50, ms | p95, ms | batch 64, utt/s |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for context, sides in results["inference"].items():
        for side, r in sides.items():
            lines.append(f"| {context} | {NAMES[side]} | {r['latency_ms_p50']:.1f} | "
                         f"{r['latency_ms_p95']:.1f} | {r['batch64_utterances_per_s']:.1f} |")
    return "\n".join(lines + ["", END])




def build_parser():
    parser = argparse.ArgumentParser(description="\n\n".join(__doc__.split("\n\n")[:3]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--peer-python", default="", help="python of the peer venv (see above)")
    add("--no-peer", action="store_true", help="measure meld-tf alone")
    add("--quick", action="store_true", help=f"smoke sizes: {QUICK}")
    add("--contexts", type=int, nargs="+", default=[2, 0])
    add("--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"])
    add("--examples", type=int, default=0, help="first N rows of each split (0: all)")
    add("--steps", type=int, default=10, help="timed training batches")
    add("--warmup", type=int, default=2, help="untimed batches before each timing")
    add("--repeats", type=int, default=3)
    add("--latency-calls", type=int, default=30, help="one-utterance calls per repeat")
    add("--batches64", type=int, default=5, help="batches of 64 per repeat")
    add("--batch-size", type=int, default=32)
    add("--max-length", type=int, default=64)
    add("--preset", choices=("minilm_l6", "bert_tiny"), default="minilm_l6",
        help="bert_tiny (random, 2 layers; --no-peer only): the CI test's")  # fmt: skip
    add("--threads", type=int, default=0, help="threads of each side (0: each one's default)")
    add("--data-dir", default=os.path.join(CACHE, "tfds"))
    add("--manual-dir", default=DEFAULT_MANUAL_DIR)
    add("--results", default=None, help="Markdown file of the section (default "
        "bench/RESULTS.md; none with --quick)")  # fmt: skip
    add("--out", default="", help="write the results as JSON here")
    return parser


def run(args, results, peer):
    for context in args.contexts:
        data = prepare(args, context, results["workdir"])
        for kind in ("fixed", "buckets"):  # Inference batches of 64.
            config = make_config(args, context, False, kind == "buckets", batch_size=64)
            data[f"{kind}_64"] = MeldPreprocessor(config, data["preprocessor"].tokenizer)
        t = {"context": context, "real_tf": data["real_tokens"],
             "epoch_tf_fixed": tokens(data["fixed"]["shapes"]),
             "epoch_tf_buckets": tokens(data["buckets"]["shapes"])}  # fmt: skip
        if peer:
            loaded = peer.ask("load", examples=data["examples"])
            data["peer_shapes"] = loaded["batches"]
            t["real_peer"] = loaded["real_tokens_per_utterance"]
            t["epoch_peer"] = tokens(loaded["batches"])
            t["same_length"] = float(np.mean(np.equal(loaded["lengths"], data["lengths"])))
        for precision in args.precisions:
            row, models = measure_row(args, context, precision == "bf16", data, peer)
            results["training"].append(row)
            t["timed"] = row["timed_tokens"]
            if precision == "fp32":
                results["inference"][context] = inference(args, context, data, models, peer)
        results["tokens"].append(t)


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    if not (args.peer_python or args.no_peer):
        parser.error("give --peer-python (the peer venv's python) or --no-peer")
    if args.preset != "minilm_l6" and not args.no_peer:
        parser.error(f"the peer runs minilm_l6 only: --preset {args.preset} needs --no-peer")
    if args.threads:  # Before TensorFlow runs its first op.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = {"command": "python bench/peer_speed.py " + " ".join(argv), "date": date,
               "cpu": cpu(), "load_average_start": os.getloadavg(), "training": [],
               "tokens": [], "inference": {}, "batch_size": args.batch_size,
               "max_length": args.max_length, "preset": args.preset}  # fmt: skip
    threads = f"threads: {args.threads}" if args.threads else "default threads"
    results["versions"] = f"TensorFlow {tf.__version__} ({threads}), Keras {keras.__version__}"
    peer = None
    try:
        peer = None if args.no_peer else Peer(args.peer_python, args)
        if peer:
            info = peer.info
            results["versions"] += (f"; torch {info['torch']} (threads: {info['threads']}), "
                                    f"transformers {info['transformers']} ({info['attention']} "
                                    "attention)")  # fmt: skip
        with tempfile.TemporaryDirectory() as results["workdir"]:
            run(args, results, peer)
    except PeerError as error:
        sys.exit(f"peer_speed.py: {error}")
    finally:
        if peer:
            peer.close()
    del results["workdir"]
    results["load_average_end"] = os.getloadavg()
    text = markdown(results)
    print(json.dumps(results, indent=2), text, sep="\n")
    path = args.results if args.results is not None else ("" if args.quick else RESULTS)
    if path:
        write_section(path, text, START, END)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return results


if __name__ == "__main__":
    main()
