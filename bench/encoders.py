"""Encoder benchmark: parameter counts and training-step time per encoder.

For each encoder at its default ``ModelConfig`` size, builds the encoder alone, then times
one training step (forward, backward and an SGD update; a ``tf.function``, no XLA) on a
random batch, after one warm-up step. Prints a Markdown table.

    python bench/encoders.py                      # all encoders, batch 32
    python bench/encoders.py --encoders audio --steps 5
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.data.audio_features import num_audio_frames  # noqa: E402
from meld_tf.models import build_encoder  # noqa: E402

# name: (modality, ModelConfig overrides, what the input is)
ENCODERS = {
    "text_minilm_l6": ("text", {"text_preset": "minilm_l6"}, "64 tokens"),
    "text_bilstm": ("text", {"text_encoder": "bilstm"}, "64 tokens"),
    "audio_cnn_lstm": ("audio", {}, "4 s log-mel (398 x 64)"),
    "video_resnet18": ("video", {"video_encoder": "resnet18"}, "8 frames 112x112"),
    "video_conv3d": ("video", {"video_encoder": "conv3d"}, "8 frames 112x112"),
}


def random_batch(encoder, config, batch_size, rng):
    """A random batch for ``encoder``'s inputs."""
    length, size = config.text_max_length, config.frame_size
    makers = {
        "text_token_ids": lambda: rng.integers(1, 1000, (batch_size, length)).astype("int32"),
        "text_segment_ids": lambda: np.zeros((batch_size, length), "int32"),
        "text_padding_mask": lambda: np.ones((batch_size, length), bool),
        "audio_features": lambda: rng.normal(
            size=(batch_size, num_audio_frames(config), config.audio_feature_dim)
        ).astype("float32"),
        "video_frames": lambda: rng.random(
            (batch_size, config.num_frames, size, size, 3), dtype="float32"
        ),
    }
    return {name: tf.constant(makers[name]()) for name in encoder.input}


def make_train_step(encoder, learning_rate):
    """A compiled SGD step of ``encoder`` (loss: the mean square of its output)."""
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)

    @tf.function(jit_compile=False)
    def train_step(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(encoder(inputs, training=True)))
        weights = encoder.trainable_weights
        grads = tape.gradient(loss, weights)
        optimizer.apply_gradients([(g, w) for g, w in zip(grads, weights) if g is not None])
        return loss

    return train_step


def timed(function, batch, steps):
    """Seconds per call of ``function(batch)``, mean of ``steps`` after one warm-up."""
    function(batch).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        function(batch).numpy()
    return (time.perf_counter() - start) / steps


def benchmark(name, batch_size, steps):
    modality, overrides, description = ENCODERS[name]
    config = ModelConfig(modalities=(modality,), **overrides)
    encoder = build_encoder(modality, config)
    batch = random_batch(encoder, config, batch_size, np.random.default_rng(0))

    seconds = timed(make_train_step(encoder, learning_rate=1e-3), batch, steps)
    return name, description, encoder.count_params(), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    args = parser.parse_args()
    print(f"batch {args.batch_size}, mean of {args.steps} steps, fp32, no XLA, "
          f"{os.cpu_count()} CPU cores visible")
    print("| encoder | input | parameters | forward+backward s/batch |")
    print("|---|---|---:|---:|")
    for name in args.encoders:
        name, description, params, seconds = benchmark(name, args.batch_size, args.steps)
        print(f"| {name} | {description} | {params:,} | {seconds:.3f} |", flush=True)


if __name__ == "__main__":
    main()
