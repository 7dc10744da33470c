"""Speed of the MiniLM text model on this machine: training throughput and inference.

Training: for each variant (fp32, Keras ``mixed_bfloat16``, XLA ``jit_compile=True``,
XLA + bf16, and fp32 / bf16 with ``bucket_by_length``: batches of similar length, padding
trimmed) the model is built and compiled by ``meld_tf.trainer`` exactly as in training,
then ``model.fit`` runs ``--warmup`` steps followed by ``--steps`` timed steps, on

* the real pipeline: ``trainer.make_datasets`` (tokenized once, cached, shuffled, batched),
* the same batches held in memory (taken from the pipeline once, then replayed),

(the same model, one after the other: the warm-up also runs before each), and the
ratio of the two step rates shows whether the input pipeline is a bottleneck. Bucketed
variants are not combined with XLA: XLA compiles once per batch shape.

Inference (``--run``, a finished run folder): latency of one utterance (tokenization
included) and throughput on batches of 64 real test utterances (tokenized beforehand) of
the saved ``model.keras``.

    python bench/text_speed.py --run ~/.cache/meld_tf/bench/ctx2/seed42
    python bench/text_speed.py --variants fp32 bf16 --steps 10
"""

import argparse
import datetime
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from meld_tf import MeldClassifier, trainer  # noqa: E402
from meld_tf.batching import batches as make_batches  # noqa: E402
from meld_tf.batching import finish_inputs  # noqa: E402
from meld_tf.config import ModelConfig  # noqa: E402
from meld_tf.run_data import load_splits  # noqa: E402
from meld_tf.train_config import TrainConfig  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
from meld_text import CACHE, DEFAULT_MANUAL_DIR, machine  # noqa: E402

# name: (mixed precision, XLA, bucket_by_length)
VARIANTS = {
    "fp32": (False, False, False),
    "bf16": (True, False, False),
    "xla": (False, True, False),
    "xla_bf16": (True, True, False),
    "fp32_buckets": (False, False, True),
    "bf16_buckets": (True, False, True),
}


class StepTimer(keras.callbacks.Callback):
    """Records the wall-clock time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def speed_config(args, variant):
    """The ``TrainConfig`` of a variant (text-only MiniLM, the bench's data)."""
    mixed, _, buckets = VARIANTS[variant]
    model = ModelConfig(
        modalities=("text",), text_preset=args.preset, text_max_length=args.max_length
    )
    return TrainConfig(
        model=model,
        dataset="text",
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        batch_size=args.batch_size,
        context=args.context,
        max_examples=args.examples,
        precision="bf16" if mixed else "fp32",
        bucket_by_length=buckets,
    )


def steps_per_second(model, data, warmup, steps):
    """Steps/s of ``model.fit`` over ``steps`` steps after ``warmup`` steps."""
    timer = StepTimer()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, verbose=0, callbacks=[timer])
    return steps / (timer.times[-1] - timer.times[warmup - 1])


def train_speed(args, variant):
    """``{"pipeline", "in_memory"}`` utterances/s of one variant, and their ratio."""
    keras.backend.clear_session()
    config = speed_config(args, variant)
    keras.utils.set_random_seed(config.seed)
    # The first epoch's batches, once held in memory and once from a fresh pipeline
    # (same seed, so the same batches in the same order).
    train, _, _, _ = trainer.make_datasets(config, verbose=False)
    memory = train.take(args.warmup + args.steps).cache()
    tokens = sum(int(tf.size(x["text_token_ids"])) for x, _ in memory)  # Fills the cache.
    pipeline, _, _, _ = trainer.make_datasets(config, verbose=False)
    model = trainer.build_model(config)
    model.compile()
    model.jit_compile = VARIANTS[variant][1]
    # An untimed pass first: every batch shape is traced (and compiled, with XLA) before
    # either timing starts.
    model.fit(memory, epochs=1, verbose=0)
    result = {}
    for name, data in (("in_memory", memory.repeat()), ("pipeline", pipeline)):
        rate = steps_per_second(model, data, args.warmup, args.steps)
        result[name] = rate * args.batch_size
        print(f"{variant:>9} {name:>9}: {result[name]:6.1f} utterances/s", flush=True)
    result["pipeline_ratio"] = result["pipeline"] / result["in_memory"]
    result["tokens_per_utterance"] = tokens / ((args.warmup + args.steps) * args.batch_size)
    return result


def try_train_speed(args, variant):
    """``train_speed``, or ``{"error": first line}`` if the variant fails (e.g. XLA)."""
    try:
        return train_speed(args, variant)
    except (tf.errors.OpError, ValueError) as error:
        message = (str(error).strip().splitlines() or [repr(error)])[0]
        print(f"{variant:>9} failed: {message}", flush=True)
        return {"error": message}


def inference_speed(run_dir, repeats):
    """Latency of one utterance (tokenized here) and batch-64 throughput of a saved run."""
    keras.backend.clear_session()
    model = MeldClassifier.from_run(run_dir)
    config, preprocessor = model.config, model.preprocessor
    example = {"text": tf.constant("Oh my God, you guys are getting married?!")}

    def one():  # As meld_tf.predict answers one utterance.
        inputs = preprocessor(
            example, tf.constant("Monica: We have news.") if config.context else None
        )
        batch = finish_inputs({k: v[None] for k, v in inputs.items()}, config)
        return model.predict_on_batch(batch)

    latencies = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        one()
        if i >= 3:  # warm-up
            latencies.append(time.perf_counter() - start)
    # Batches of 64 real test utterances (with their contexts), tokenized beforehand.
    config64 = config.replace(batch_size=64)
    test = load_splits(config64, config.dataset)["test"]
    test = make_batches(preprocessor.preprocess(test, "test"), config64)
    batches = [x for x, _ in test.take(repeats)]
    model.predict_on_batch(batches[0])
    start = time.perf_counter()
    for batch in batches:
        model.predict_on_batch(batch)
    count = sum(int(tf.shape(batch["text_token_ids"])[0]) for batch in batches)
    throughput = count / (time.perf_counter() - start)
    return {
        "latency_ms_median": 1000 * float(np.median(latencies)),
        "latency_ms_p90": 1000 * float(np.percentile(latencies, 90)),
        "batch64_utterances_per_s": throughput,
        "max_length": config.model.text_max_length,
    }


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="*", choices=tuple(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--context", type=int, default=2, help="as in bench/meld_text.py")
    parser.add_argument("--examples", type=int, default=2000, help="train rows tokenized")
    parser.add_argument("--preset", default="minilm_l6")
    parser.add_argument("--data-dir", default=os.path.join(CACHE, "tfds"))
    parser.add_argument("--manual-dir", default=DEFAULT_MANUAL_DIR)
    parser.add_argument("--run", default="", help="finished run folder for inference timing")
    parser.add_argument("--repeats", type=int, default=30, help="timed inference calls")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    results = {
        "command": "python bench/text_speed.py " + " ".join(argv),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_before": os.getloadavg(),
        "training": {variant: try_train_speed(args, variant) for variant in args.variants},
    }
    if args.run:
        results["inference"] = inference_speed(args.run, args.repeats)
    results["load_average_after"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return results


if __name__ == "__main__":
    main()
