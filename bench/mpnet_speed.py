"""Training-step time of the text encoder: MPNet-base (all-mpnet-base-v2) vs MiniLM-L6.

For each preset, builds the text encoder as a run does (``build_bert_text_encoder``:
backbone, mean pooling, projection) and times, on one random batch (all tokens real), a
training step (forward, backward and an SGD update, in a ``tf.function``, fp32, no XLA,
as ``bench/encoders.py``) and a forward pass alone, each after one warm-up call. Prints a
Markdown table and the machine (CPU model, cores, vector extensions).

    python bench/mpnet_speed.py                        # batch 32 x 64 tokens, 3 steps
    python bench/mpnet_speed.py --presets mpnet_base --steps 5
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from encoders import make_train_step, timed  # noqa: E402  (bench/, the script's folder)
from meld_text import machine  # noqa: E402

from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.models.bert_text_encoder import build_bert_text_encoder  # noqa: E402

PRESETS = ("minilm_l6", "mpnet_base")


def benchmark(preset, batch_size, length, steps):
    config = ModelConfig(modalities=("text",), text_preset=preset, text_max_length=length)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=64, help="tokens per example")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    args = parser.parse_args()
    print(f"batch {args.batch_size} x {args.length} tokens, mean of {args.steps} steps, fp32, "
          f"no XLA; {machine()}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| text preset | backbone parameters | training step s | forward s |")
    print("|---|---:|---:|---:|")
    for preset in args.presets:
        params, train, forward = benchmark(preset, args.batch_size, args.length, args.steps)
        print(f"| {preset} | {params:,} | {train:.2f} | {forward:.2f} |", flush=True)


if __name__ == "__main__":
    main()
