"""Encoder benchmark: parameter counts and training-step time per encoder, and of the
text+audio+video model.

For each encoder at its default ``ModelConfig`` size, builds the encoder alone, then times
one training step (forward, backward and an SGD update; a ``tf.function``, no XLA) on a
random batch, after one warm-up step. ``classifier_text_audio_video`` is the whole model
that ``python -m meld_tf.train --modalities text audio video`` trains with its defaults
(attention fusion, the auxiliary heads, ``model.compile()``'s optimizer and losses), timed
as ``train_on_batch``. Prints a Markdown table; ``--results FILE`` rewrites its section.

    python bench/encoders.py                      # all, batch 32
    python bench/encoders.py --encoders audio --steps 5
    python bench/encoders.py --results bench/RESULTS.md
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from meld_tf import MeldClassifier  # noqa: E402
from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.data.audio_features import num_audio_frames  # noqa: E402
from meld_tf.models import build_encoder  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meld_text import machine  # noqa: E402
from results_file import command_line, publish  # noqa: E402

START, END = "<!-- encoders:start -->", "<!-- encoders:end -->"
CLASSIFIER = "classifier_text_audio_video"

# name: (modality, ModelConfig overrides, what the input is)
ENCODERS = {
    "text_minilm_l6": ("text", {"text_preset": "minilm_l6"}, "64 tokens"),
    "text_bilstm": ("text", {"text_encoder": "bilstm"}, "64 tokens"),
    "audio_cnn_lstm": ("audio", {}, "4 s log-mel (398 x 64)"),
    "video_resnet18": ("video", {"video_encoder": "resnet18"}, "8 frames 112x112"),
    "video_conv3d": ("video", {"video_encoder": "conv3d"}, "8 frames 112x112"),
    CLASSIFIER: (("text", "audio", "video"), {},
                 "MiniLM 64 tokens, 4 s log-mel, 8 frames 112x112; attention fusion"),
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
        **{f"{m}_mask": lambda: np.ones((batch_size,), "float32") for m in config.modalities},
    }
    return {name: tf.constant(makers[name]()) for name in encoder.input}


def make_train_step(encoder, learning_rate):
    """A compiled SGD step of ``encoder`` (loss: the mean square of its output)."""
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)

    @tf.function(jit_compile=False)
    def train_step(inputs):
        with tf.GradientTape() as tape:
            outputs = tf.cast(encoder(inputs, training=True), "float32")  # as a run's loss
            loss = tf.reduce_mean(tf.square(outputs))
        weights = encoder.trainable_weights
        grads = tape.gradient(loss, weights)
        optimizer.apply_gradients([(g, w) for g, w in zip(grads, weights) if g is not None])
        return loss

    return train_step


def timed(function, batch, steps):
    """Seconds per call of ``function(batch)``, mean of ``steps`` after one warm-up."""
    function(batch).numpy()  # .numpy(): waits for the result (np.asarray fails on bfloat16)
    start = time.perf_counter()
    for _ in range(steps):
        function(batch).numpy()
    return (time.perf_counter() - start) / steps


def random_labels(model, batch_size, rng):
    """Random one-hot labels for every head of ``model`` (``*emotion``: 7, sentiment: 3)."""
    return {name: np.eye(3 if name == "sentiment" else 7, dtype="float32")[
        rng.integers(0, 3 if name == "sentiment" else 7, batch_size)]
        for name in model.output_names}  # fmt: skip


def benchmark(name, batch_size, steps):
    modalities, overrides, description = ENCODERS[name]
    rng = np.random.default_rng(0)
    if name == CLASSIFIER:
        config = ModelConfig(modalities=modalities, **overrides)
        model = MeldClassifier.for_config(TrainConfig(model=config))
        model.compile()
        batch = random_batch(model, config, batch_size, rng)
        labels = random_labels(model, batch_size, rng)

        def step(inputs):
            return np.asarray(model.train_on_batch(inputs, labels, return_dict=False)[0])

        return name, description, model.count_params(), timed(step, batch, steps)
    config = ModelConfig(modalities=(modalities,), **overrides)
    encoder = build_encoder(modalities, config)
    batch = random_batch(encoder, config, batch_size, rng)

    seconds = timed(make_train_step(encoder, learning_rate=1e-3), batch, steps)
    return name, description, encoder.count_params(), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--results", default="", help="Markdown file whose section is rewritten")
    args = parser.parse_args(argv)
    command = command_line("encoders.py", argv)
    lines = [START, "## Training step time per encoder, and of text+audio+video", "",
             f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')} UTC). {machine()}. Random "
             f"batches of {args.batch_size}, mean of {args.steps} steps after one warm-up, "
             "fp32, no XLA; an encoder alone: forward, backward and an SGD update; the "
             "classifier: `train_on_batch` with its default compile.", "",
             "| encoder | input | parameters | training step, s/batch |", "|---|---|---:|---:|"]
    print("\n".join(lines[1:]), flush=True)  # The rows follow as they are measured.
    for name in args.encoders:
        name, description, params, seconds = benchmark(name, args.batch_size, args.steps)
        lines.append(f"| {name} | {description} | {params:,} | {seconds:.3f} |")
        print(lines[-1], flush=True)
    lines.append(END)
    publish("\n".join(lines), args.results, START, END)


if __name__ == "__main__":
    main()
