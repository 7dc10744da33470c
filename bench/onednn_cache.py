"""oneDNN's primitive cache against length-bucketed training: meld-tf's default capacity
(``ONEDNN_PRIMITIVE_CACHE_CAPACITY=16384``, set by ``import meld_tf``) against oneDNN's
own (1,024).

Length buckets give the text model a new sequence length almost every step (dozens of
shapes per epoch); every shape needs its own compiled oneDNN primitives (matmuls, layer
norms, softmax ...). When an epoch's primitives do not fit in the cache, they are rebuilt
on every step. Each measurement is a fresh process with the capacity in its environment:
it builds meld-tf's MiniLM model and trains it over the same real MELD batches (one epoch
of ``--examples`` training utterances, length-bucketed) twice; the first pass traces and
compiles every shape, the second is the steady state of training. The capacities
alternate over ``--pairs`` pairs; the section between the markers of ``--results`` is
rewritten.

    python bench/onednn_cache.py                 # 2 pairs, 3000 utterances, context 2
    python bench/onednn_cache.py --quick         # smoke sizes (bert_tiny, no results file)
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from results_file import RESULTS, command_line, publish  # noqa: E402

START, END = "<!-- onednn-cache:start -->", "<!-- onednn-cache:end -->"
CAPACITIES = (1024, 16384)  # oneDNN's default, meld-tf's.


def child(args):
    """One measurement in this process; prints its JSON line."""
    import resource

    import keras
    import peer_speed

    flags = ["--no-peer", "--examples", str(args.examples), "--preset", args.preset]
    speed_args = peer_speed.build_parser().parse_args(flags)
    with tempfile.TemporaryDirectory() as work:
        data = peer_speed.prepare(speed_args, args.context, work)
    config = peer_speed.make_config(speed_args, args.context, False, True)
    keras.utils.set_random_seed(0)
    model = peer_speed.trainer.build_model(config)
    model.compile()
    epoch = dict(data["buckets"], window=list(range(len(data["buckets"]["batches"]))))
    first = peer_speed.tf_train(model, epoch, 2)
    second = peer_speed.tf_train(model, epoch, 2)
    print(json.dumps({
        "capacity": os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY"),
        "batches": len(epoch["window"]),
        "lengths": len({shape[1] for shape in epoch["shapes"]}),
        "first": first, "second": second,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }), flush=True)


def measure(args, capacity):
    env = dict(os.environ, ONEDNN_PRIMITIVE_CACHE_CAPACITY=str(capacity),
               TF_CPP_MIN_LOG_LEVEL="2")  # fmt: skip
    command = [sys.executable, os.path.abspath(__file__), "--child", "--examples",
               str(args.examples), "--context", str(args.context), "--preset", args.preset]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        sys.exit(f"capacity {capacity} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1])
    print(f"capacity {capacity}: first pass {result['first']:.1f} utt/s, second "
          f"{result['second']:.1f} utt/s, {result['max_rss_mb']} MB", flush=True)
    return result


def markdown(args, pairs, started, loads):
    from meld_text import machine

    command = command_line("onednn_cache.py")
    lines = [
        START, "## oneDNN's primitive cache and length buckets", "",
        f"`{command}` ({started:%Y-%m-%d %H:%M} UTC). {machine()}. Load average at start "
        f"{loads[0]:.2f}, at the end {loads[1]:.2f}.", "",
        f"{args.preset}, context {args.context}, one length-bucketed epoch of "
        f"{args.examples} real MELD training utterances ({pairs[0][0]['batches']} batches, "
        f"{pairs[0][0]['lengths']} distinct lengths), fp32; a fresh process per "
        "measurement, utterances/s of the first pass (every shape traced) and of the second "
        "(steady training):", "",
        "| pair | capacity | first pass, utt/s | second pass, utt/s | max RSS, MB | "
        "second pass, 16384 / 1024 |", "|---|---|---|---|---|---|",
    ]
    for number, pair in enumerate(pairs, 1):
        by_capacity = {int(r["capacity"]): r for r in pair}
        ratio = by_capacity[16384]["second"] / by_capacity[1024]["second"]
        for capacity in CAPACITIES:
            r = by_capacity[capacity]
            lines.append(f"| {number} | {capacity} | {r['first']:.1f} | {r['second']:.1f} | "
                         f"{r['max_rss_mb']} | {f'**{ratio:.2f}**' if capacity == 16384 else ''} |")
    lines.append(END)
    return "\n".join(lines)




def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--context", type=int, default=2)
    parser.add_argument("--preset", choices=("minilm_l6", "bert_tiny"), default="minilm_l6")
    parser.add_argument("--quick", action="store_true", help="1 pair, 64 utterances, bert_tiny")
    parser.add_argument("--results", default=RESULTS, help="Markdown file ('' for none)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.quick:
        args.pairs, args.examples, args.preset, args.results = 1, 64, "bert_tiny", ""
    started, loads = datetime.datetime.now(datetime.timezone.utc), [os.getloadavg()[0]]
    pairs = []
    for number in range(args.pairs):  # Alternating which capacity goes first.
        order = CAPACITIES if number % 2 == 0 else CAPACITIES[::-1]
        pairs.append([measure(args, capacity) for capacity in order])
    loads.append(os.getloadavg()[0])
    text = markdown(args, pairs, started, loads)
    publish(text, args.results, START, END)


if __name__ == "__main__":
    main()
