"""Training-step time of the text encoder: MPNet-base (all-mpnet-base-v2) vs MiniLM-L6.

For each preset, builds the text encoder as a run does (``build_bert_text_encoder``:
backbone, mean pooling, projection) and times, on one random batch (all tokens real), a
training step (forward, backward and an SGD update, in a ``tf.function``, no XLA, as
``bench/encoders.py``) and a forward pass alone, each after one warm-up call; MPNet also
with its lower layers frozen (``--text-frozen-layers``); in each of ``--precisions`` (fp32, and
bf16: Keras's ``mixed_bfloat16``, what ``--precision auto`` picks on a CPU with AVX-512 BF16
or AMX). Prints a Markdown table with the
machine (CPU model, cores, vector extensions), and writes it into ``--results``.

    python bench/mpnet_speed.py --results bench/RESULTS.md   # batch 32 x 64 tokens, 3 steps
    python bench/mpnet_speed.py --presets mpnet_base --mpnet-frozen 0 4 8 --steps 5
    python bench/mpnet_speed.py --precisions fp32 bf16
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from encoders import make_train_step, timed  # noqa: E402  (bench/, the script's folder)
from meld_text import machine  # noqa: E402
from results_file import command_line, publish  # noqa: E402

from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.models.bert_text_encoder import build_bert_text_encoder  # noqa: E402

PRESETS = ("minilm_l6", "mpnet_base")
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}
START, END = "<!-- mpnet-speed:start -->", "<!-- mpnet-speed:end -->"


def benchmark(preset, batch_size, length, steps, frozen_layers=0, precision="fp32"):
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    config = ModelConfig(modalities=("text",), text_preset=preset, text_max_length=length,
                         text_frozen_layers=frozen_layers)  # fmt: skip
    encoder = build_bert_text_encoder(config)
    rng = np.random.default_rng(0)
    batch = {
        "text_token_ids": tf.constant(rng.integers(1000, 2000, (batch_size, length)), tf.int32),
        "text_segment_ids": tf.zeros((batch_size, length), tf.int32),
        "text_padding_mask": tf.ones((batch_size, length), tf.bool),
    }
    train_step = make_train_step(encoder, learning_rate=1e-4)

    @tf.function(jit_compile=False)
    def forward(inputs):
        return encoder(inputs, training=False)

    backbone = next(x for x in encoder.layers if isinstance(x, keras_hub.models.Backbone))
    return backbone.count_params(), timed(train_step, batch, steps), timed(forward, batch, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--mpnet-frozen", type=int, nargs="+", default=[0, 8],
                        help="mpnet_base rows: lower layers not fine-tuned (--text-frozen-layers)")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=list(POLICIES))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=64, help="tokens per example")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--results", default="", help="Markdown file whose section is rewritten")
    args = parser.parse_args(argv)
    lines = [START, "## Text encoders: MPNet-base against MiniLM-L6, per training step", "",
             f"`{command_line('mpnet_speed.py', argv)}` ({time.strftime('%Y-%m-%d %H:%M')} UTC). "
             f"Batch {args.batch_size} x {args.length} tokens, mean of {args.steps} steps after "
             f"one warm-up, no XLA; {machine()}; load average at start "
             f"{os.getloadavg()[0]:.1f}.", "",
             "| text preset | frozen layers | precision | backbone parameters | training step s "
             "| forward s |", "|---|---:|---|---:|---:|---:|"]  # fmt: skip
    rows = [(preset, frozen, precision) for preset in args.presets
            for frozen in (args.mpnet_frozen if preset == "mpnet_base" else [0])
            for precision in args.precisions]  # fmt: skip
    for preset, frozen, precision in rows:
        params, train, forward = benchmark(preset, args.batch_size, args.length, args.steps,
                                           frozen, precision)  # fmt: skip
        lines.append(f"| {preset} | {frozen} | {precision} | {params:,} | {train:.2f} "
                     f"| {forward:.2f} |")
        print(lines[-1], flush=True)
    lines.append(END)
    publish("\n".join(lines), args.results, START, END)


if __name__ == "__main__":
    main()
