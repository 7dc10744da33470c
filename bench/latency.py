"""Latency of one utterance through a run's serving function: text, text + a 4 s clip's
audio, and text + audio + video frames.

Each row builds the model that ``python -m meld_tf.train --modalities ...`` trains with its
defaults (MiniLM, context 2; weights as built: latency does not depend on them) and its
`meld_tf.serving.Serving`: one compiled function from raw inputs (text, the previous turns,
a 16 kHz waveform, uint8 frames) to the heads, tokenisation and audio features included, as
`meld_tf.predict` and the exported SavedModel answer. The inputs are one real MELD test
utterance with its two previous turns, 4 s of noise as its audio and ``--num-frames``
random frames at ``--frame-size``. After
``--warmup`` calls, ``--calls`` calls are timed one by one: p50 and p95 in ms.

    python bench/latency.py --results bench/RESULTS.md
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from meld_tf import MeldClassifier  # noqa: E402
from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.data.media import MediaConfig  # noqa: E402
from meld_tf.preprocessing import MeldPreprocessor  # noqa: E402
from meld_tf.preprocessing.meld_preprocessor import SAMPLE_RATE  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meld_text import machine  # noqa: E402
from results_file import command_line, publish  # noqa: E402

START, END = "<!-- latency:start -->", "<!-- latency:end -->"
ROWS = {"text": ("text",), "text + audio (4 s)": ("text", "audio"),
        "text + audio (4 s) + video": ("text", "audio", "video")}  # fmt: skip
# MELD test dialogue 0, utterance 2, and its two previous turns (most recent first, as
# `meld_tf.preprocessing.dialogue_contexts` writes the `context` input).
TEXT = "Y'know what?"
CONTEXT = ("Rachel: Oh. That’s so Monica can keep track. That way if one on them is missing, "
           "she can be like, ‘Where’s number 27?!’ Mark: Why do all you’re coffee mugs have "
           "numbers on the bottom?")


def raw_inputs(config, rng):
    """One utterance's raw serving inputs for ``config``'s modalities."""
    inputs = {"text": np.array([TEXT], object)}
    if config.context:
        inputs["context"] = np.array([CONTEXT], object)
    if "audio" in config.model.modalities:
        samples = int(4 * config.model.sample_rate)
        inputs["waveform"] = (0.1 * rng.standard_normal((1, samples))).astype("float32")
        inputs["waveform_length"] = np.array([samples], "int32")
    if "video" in config.model.modalities:
        size, count = config.model.frame_size, config.model.num_frames
        inputs["frames"] = rng.integers(0, 256, (1, count, size, size, 3), dtype="uint8")
        inputs["num_frames"] = np.array([count], "int32")
    return inputs


def measure(modalities, args):
    """``(p50 ms, p95 ms)`` of one-utterance calls of the serving function."""
    config = TrainConfig(model=ModelConfig(modalities=modalities, num_frames=args.num_frames,
                                           frame_size=args.frame_size))  # fmt: skip
    built = MediaConfig()  # What the full build stores.
    media = {"num_frames": built.num_frames, "frame_size": built.frame_size,
             "sample_rate": SAMPLE_RATE}  # fmt: skip
    model = MeldClassifier.for_config(config, MeldPreprocessor.from_config(config, media))
    serving = model.serving_function()
    inputs = raw_inputs(config, np.random.default_rng(0))
    for _ in range(args.warmup):
        serving(**inputs)
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        outputs = serving(**inputs)
        np.asarray(outputs["emotion"])
        times.append(1000 * (time.perf_counter() - start))
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--frame-size", type=int, default=112)
    parser.add_argument("--results", default="", help="Markdown file whose section is rewritten")
    args = parser.parse_args(argv)
    command = command_line("latency.py", argv)
    lines = [START, "## One utterance through the serving function", "",
             f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')} UTC). {machine()}; load average "
             f"at start {os.getloadavg()[0]:.2f}. MiniLM, context 2, video {args.num_frames} "
             f"frames of {args.frame_size} px; {args.calls} calls after "
             f"{args.warmup}, tokenisation and audio features included:", "",
             "| inputs | p50, ms | p95, ms |", "|---|---|---|"]
    for row in args.rows:
        p50, p95 = measure(ROWS[row], args)
        lines.append(f"| {row} | {p50:.1f} | {p95:.1f} |")
        print(lines[-1], flush=True)
    lines.append(END)
    publish("\n".join(lines), args.results, START, END)


if __name__ == "__main__":
    main()
