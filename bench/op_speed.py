"""Where the training time of MiniLM goes: its operations, TensorFlow against PyTorch.

`bench/peer_speed.py` finds meld-tf's MiniLM training slower than the PyTorch peer on the
same batches on some CPUs. This times each kind of operation of one transformer layer,
forward and backward, at MiniLM's sizes and a MELD batch (32 utterances of 40 tokens), on
both sides: TensorFlow / Keras here, PyTorch in the peer's venv (the same script, run
there with ``--side torch``):

    python bench/op_speed.py --peer-python ~/.venvs/meld-peer/bin/python

Each figure is the median over ``--repeats`` of the mean of ``--calls`` steps, the two
sides alternating; the section between the markers in ``--results`` (default
``bench/RESULTS.md``) is rewritten. Measure on an idle machine.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from results_file import RESULTS, write_section  # noqa: E402

START, END = "<!-- op-speed:start -->", "<!-- op-speed:end -->"
OPS = {
    "dense": "Dense 384 -> 1536 (the feed-forward's first layer)",
    "projection": "query projection 384 -> 12 x 32 (Keras EinsumDense; torch Linear)",
    "projection_meld": "the same projection, `import meld_tf` (tf.einsum; `meld_tf.workarounds`)",
    "attention": "attention core: scores, softmax, context (12 heads of 32)",
    "gelu": "exact GELU on (32, 40, 1536)",
    "gelu_tanh": "tanh-approximate GELU on (32, 40, 1536)",
    "layer_norm": "LayerNormalization on (32, 40, 384)",
    "dropout": "Dropout 0.1 on (32, 40, 384)",
    "layer": "one encoder layer (keras_hub TransformerEncoder; torch TransformerEncoderLayer)",
    "layer_meld": "the same layer, `import meld_tf`",
}


def tf_steps(batch, length):
    """``{op: step}`` on the TensorFlow side: each step runs forward and backward."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    from meld_tf import workarounds

    keras_einsum, meld_einsum = workarounds.KERAS_EINSUM, workarounds.keras_tf_numpy.einsum
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch, length, 384), np.float32))
    wide = tf.constant(rng.random((batch, length, 1536), np.float32))
    heads = [tf.constant(rng.random((batch, length, 12, 32), np.float32)) for _ in range(3)]

    def attention(q, k, v):  # As keras.layers.MultiHeadAttention computes it.
        scores = tf.nn.softmax(tf.einsum("aecd,abcd->acbe", k, q))
        return tf.einsum("acbe,aecd->abcd", scores, v)

    layers = {
        "dense": (keras.layers.Dense(1536), x),
        "projection": (keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 12, 32)),
                       x),  # fmt: skip
        "projection_meld": (keras.layers.EinsumDense("abc,cde->abde",
                                                     output_shape=(None, 12, 32)), x),  # fmt: skip
        "attention": (attention, heads),
        "gelu": (lambda t: keras.activations.gelu(t, approximate=False), wide),
        "gelu_tanh": (lambda t: keras.activations.gelu(t, approximate=True), wide),
        "layer_norm": (keras.layers.LayerNormalization(), x),
        "dropout": (keras.layers.Dropout(0.1), x),
        "layer": (keras_hub.layers.TransformerEncoder(1536, 12, dropout=0.1,
                                                      activation="gelu"), x),  # fmt: skip
        "layer_meld": (keras_hub.layers.TransformerEncoder(1536, 12, dropout=0.1,
                                                           activation="gelu"), x),  # fmt: skip
    }
    steps = {}
    for name, (layer, inputs) in layers.items():
        args = inputs if isinstance(inputs, list) else [inputs]
        if isinstance(layer, keras.layers.Layer):
            layer(*args)  # Built before the step is traced.

        meld = name.endswith("_meld")

        def step(layer=layer, args=args, meld=meld):
            # Traced once: the einsum that Keras calls while tracing is in the graph.
            workarounds.keras_tf_numpy.einsum = meld_einsum if meld else keras_einsum
            with tf.GradientTape() as tape:
                tape.watch(args)
                if isinstance(layer, keras.layers.Layer):
                    outputs = layer(*args, training=True)
                else:
                    outputs = layer(*args)
                loss = tf.reduce_sum(tf.square(outputs))
            weights = layer.trainable_weights if isinstance(layer, keras.layers.Layer) else []
            return tape.gradient(loss, list(args) + weights)

        steps[name] = tf.function(step)
    return steps, lambda: setattr(workarounds.keras_tf_numpy, "einsum", meld_einsum)


def torch_steps(batch, length):
    """``{op: step}`` on the PyTorch side (the peer's venv)."""
    import torch

    torch.manual_seed(0)
    x = torch.rand(batch, length, 384, requires_grad=True)
    wide = torch.rand(batch, length, 1536, requires_grad=True)
    heads = [torch.rand(batch, 12, length, 32, requires_grad=True) for _ in range(3)]

    def attention(q, k, v):
        return torch.softmax(q @ k.transpose(-1, -2), -1) @ v

    layer = torch.nn.TransformerEncoderLayer(384, 12, 1536, dropout=0.1, activation="gelu",
                                             batch_first=True)  # fmt: skip
    modules = {
        "dense": (torch.nn.Linear(384, 1536), [x]),
        "projection": (torch.nn.Linear(384, 384), [x]),
        "attention": (attention, heads),
        "gelu": (lambda t: torch.nn.functional.gelu(t), [wide]),
        "gelu_tanh": (lambda t: torch.nn.functional.gelu(t, approximate="tanh"), [wide]),
        "layer_norm": (torch.nn.LayerNorm(384), [x]),
        "dropout": (torch.nn.Dropout(0.1), [x]),
        "layer": (layer.train(), [x]),
    }

    def make(module, args):
        def step():
            torch.square(module(*args)).sum().backward()

        return step

    steps = {name: make(module, args) for name, (module, args) in modules.items()}
    return {**steps, "projection_meld": steps["projection"], "layer_meld": steps["layer"]}


def time_steps(steps, calls):
    """Milliseconds per call of each step (after two untimed calls)."""
    times = {}
    for name, step in steps.items():
        step(), step()
        start = time.perf_counter()
        for _ in range(calls):
            step()
        times[name] = 1000 * (time.perf_counter() - start) / calls
    return times


def serve(side, batch, length, threads):
    """``--side torch``: time on request, one JSON line per ``calls`` read from stdin."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    steps = torch_steps(batch, length)
    print(json.dumps({"ready": side}), flush=True)
    for line in sys.stdin:
        print(json.dumps(time_steps(steps, int(line))), flush=True)


def cpu_flags():
    with open("/proc/cpuinfo", encoding="utf-8") as file:
        lines = file.read().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    shown = [f for f in flags if f.startswith(("avx", "amx")) and f in (
        "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")]  # fmt: skip
    return f"{model}, {os.cpu_count()} cores; flags: {' '.join(shown) or 'none of avx2/avx512'}"


def markdown(result):
    import numpy as np

    lines = [
        "## Where MiniLM's training time goes: TensorFlow vs PyTorch, per operation", "",
        f"`{result['command']}` ({result['date']}; TensorFlow {result['tf']}, torch "
        f"{result['torch']}). CPU: {result['cpu']}. Load average at start "
        f"{result['load'][0]:.2f}.", "",
        f"Forward and backward of each operation at MiniLM-L6's sizes, a batch of "
        f"{result['batch']} utterances of {result['length']} tokens; ms per step (median of "
        f"{result['repeats']} alternating repeats of {result['calls']} steps):", "",
        "| operation | TensorFlow, ms | PyTorch, ms | TF / torch time |", "|---|---|---|---|",
    ]  # fmt: skip
    for name, what in OPS.items():
        tf_ms = float(np.median([r[name] for r in result["tf_times"]]))
        torch_ms = float(np.median([r[name] for r in result["torch_times"]]))
        lines.append(f"| {what} | {tf_ms:.2f} | {torch_ms:.2f} | **{tf_ms / torch_ms:.2f}** |")
    return "\n".join(lines) + "\n"




def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default="", help="python of the peer venv")
    parser.add_argument("--side", choices=("tf", "torch"), default="tf", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--results", default=RESULTS, help="Markdown file ('' for none)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.side == "torch":
        return serve("torch", args.batch, args.length, args.threads)
    if not args.peer_python:
        parser.error("give --peer-python (the peer venv's python, bench/peer_speed.py)")
    peer = subprocess.Popen(
        [args.peer_python, __file__, "--side", "torch", "--batch", str(args.batch),
         "--length", str(args.length), "--threads", str(args.threads)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = peer.stdout.readline()
    if not ready:
        sys.exit("op_speed.py: the peer process did not start (see its error above).")
    import tensorflow as tf

    load = os.getloadavg()
    steps, restore = tf_steps(args.batch, args.length)
    result = {"tf_times": [], "torch_times": []}
    for repeat in range(args.repeats):
        result["tf_times"].append(time_steps(steps, args.calls))
        peer.stdin.write(f"{args.calls}\n")
        peer.stdin.flush()
        result["torch_times"].append(json.loads(peer.stdout.readline()))
        print(f"repeat {repeat + 1}: tf {result['tf_times'][-1]}\n"
              f"          torch {result['torch_times'][-1]}", flush=True)  # fmt: skip
    peer.stdin.close()
    restore()
    versions = subprocess.run([args.peer_python, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    result.update(
        command="python bench/op_speed.py " + " ".join(argv), cpu=cpu_flags(), load=load,
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        tf=tf.__version__, torch=versions, batch=args.batch, length=args.length,
        calls=args.calls, repeats=args.repeats,
    )  # fmt: skip
    text = markdown(result)
    print(text)
    if args.results:
        write_section(args.results, f"{START}\n{text}{END}", START, END)
    return result


if __name__ == "__main__":
    main()
