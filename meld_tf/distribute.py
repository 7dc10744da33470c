"""Training on several devices or machines: the ``tf.distribute`` strategy of a run.

``make_strategy(name)`` builds the strategy that ``meld_tf.trainer`` builds and compiles
its model under (``with strategy.scope():``); Keras then splits every global batch of
``TrainConfig.batch_size`` examples across the replicas and sums the metrics' variables
across them.

* ``auto``: the default strategy on one device, or ``MirroredStrategy`` when there is
  more than one GPU.
* ``mirrored``: ``MirroredStrategy`` over the given devices, else every local GPU, else every
  logical CPU device (one CPU device: one replica).
* ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the machines of ``TF_CONFIG``
  (start the same command on each; the chief, worker 0 without a ``chief`` task, writes
  the run folder, the others write to a temporary folder, as TensorFlow recommends).
* ``tpu``: ``TPUStrategy`` on the TPU named by ``tpu`` (empty: Colab's or the local one).

``precision_policy`` picks the Keras dtype policy of ``--precision`` for the strategy's devices:
``mixed_float16`` on GPUs, ``mixed_bfloat16`` on CPUs and TPUs.
"""

import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from meld_tf import workarounds
from meld_tf.train_config import STRATEGIES


def make_strategy(name="auto", devices=None, tpu=""):
    """The ``tf.distribute.Strategy`` called ``name`` (one of `STRATEGIES`).

    Args:
        name: ``"auto"``, ``"mirrored"``, ``"multi_worker"`` or ``"tpu"``.
        devices: for ``mirrored``: device names (e.g. ``["/gpu:0", "/gpu:1"]``); default
            every local GPU, else every logical CPU device.
        tpu: for ``tpu``: the TPU address or name (empty: Colab's / the local TPU).

    Raises:
        ValueError: an unknown name, or ``multi_worker`` without a usable ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; valid choices: {STRATEGIES}.")
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if not devices:
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices(
                "CPU"
            )
            devices = [d.name for d in devices]
        return tf.distribute.MirroredStrategy(list(devices))
    if name == "multi_worker":
        cluster = _tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver()
            if cluster else None
        )
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _tf_config():
    """The parsed ``TF_CONFIG`` (a dict) for ``multi_worker``; clear errors when it is bad."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise ValueError(
            "strategy 'multi_worker' needs TF_CONFIG: on each machine set e.g. "
            'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (index 1 on the second).'
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        config["task"]["type"], config["task"]["index"]  # noqa: B018  (must exist)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG {text!r} is not a valid cluster description ({error!r}); it needs "
            '"cluster": {"worker": [...]} and "task": {"type": ..., "index": ...}.'
        ) from None
    if not workers:
        raise ValueError(f"TF_CONFIG {text!r} lists no workers.")
    return config


def num_replicas(strategy):
    """How many replicas a global batch is split across."""
    return strategy.num_replicas_in_sync


def is_chief(strategy):
    """Whether this process writes the run folder (always, except non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_dir(run_dir, strategy, copy=()):
    """The folder this process writes its run to: ``run_dir`` on the chief.

    Other workers get a fresh temporary folder (remove it with `cleanup_worker_dir`),
    holding a copy of each name in ``copy`` that exists under ``run_dir`` (the chief's
    backup, so that every worker resumes from the same epoch; this needs ``run_dir`` on a
    filesystem all workers share).
    """
    if is_chief(strategy):
        return run_dir
    resolver = strategy.cluster_resolver
    path = tempfile.mkdtemp(prefix=f"meld_tf_{resolver.task_type}{resolver.task_id}_")
    for name in copy:
        source = os.path.join(run_dir, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(path, name))
        elif os.path.isfile(source):
            shutil.copy(source, os.path.join(path, name))
    return path


def cleanup_worker_dir(path, run_dir):
    """Removes a non-chief worker's temporary folder (never the chief's run folder)."""
    if os.path.abspath(path) != os.path.abspath(run_dir):
        shutil.rmtree(path, ignore_errors=True)


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # CPUs where bfloat16 was measured faster
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (Linux), or an empty set where they cannot be read."""
    try:
        with open(path, encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _on_accelerator(strategy):
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    try:
        devices = strategy.extended.worker_devices
    except (AttributeError, RuntimeError):  # the default strategy: this process's devices
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    return any("GPU" in device.upper() for device in devices)


def resolve_precision(precision, strategy=None, flags=None):
    """``precision`` with ``"auto"`` made concrete: ``"bf16"`` on a CPU with AVX-512 BF16
    or AMX (``flags``: the CPU's, by default read from ``/proc/cpuinfo``), where bfloat16
    trained MiniLM 1.45-1.57x faster than float32 (2-core AMD EPYC Zen 4, measured with
    the peer comparison of bench/peer_speed.py), ``"fp32"`` elsewhere: on an AVX2-only CPU
    bfloat16 was slower than float32 (bench/RESULTS.md), and on GPUs and TPUs it is the
    user's choice (``--precision bf16`` or ``fp16``)."""
    if precision != "auto":
        return precision
    strategy = strategy or tf.distribute.get_strategy()
    if _on_accelerator(strategy):
        return "fp32"
    flags = cpu_flags() if flags is None else flags
    return "bf16" if set(BF16_CPU_FLAGS) & set(flags) else "fp32"


def precision_policy(strategy, precision="auto"):
    """The Keras dtype policy of a ``precision`` (`resolve_precision`): ``float32``,
    ``mixed_bfloat16`` or ``mixed_float16`` (GPUs; Keras adds loss scaling)."""
    return POLICIES[resolve_precision(precision, strategy)]


def shard_by_data(dataset, strategy):
    """``dataset`` with data (not file) auto-sharding when several workers read it.

    The preprocessed MELD splits are cached in memory, not files, so each worker keeps
    every ``num_workers``-th batch.
    """
    if workarounds.in_multi_worker_mode(strategy):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return dataset.with_options(options)
    return dataset


def prepare_for_fit(model, strategy):
    """Work around two Keras 3.15 faults of ``model.fit`` under a strategy; returns ``model``.

    Per-step logs under ``MultiWorkerMirroredStrategy``: Keras averages the replicas'
    scalar logs along an axis 0 they do not have; here each step returns them with
    shape ``(1,)`` (the epoch logs, which callbacks and the history see, are read from
    the metrics' variables summed over all replicas either way).

    Keras 3.15 builds a model under a strategy from the first input batch averaged across
    replicas (``strategy.reduce("MEAN", ...)``), which fails for bool inputs such as
    ``text_padding_mask`` (``AddN`` has no bool kernel), and reads that batch from an
    iterator of its own, which shifts a reshuffling dataset by one epoch (so a run under a
    strategy would see other batches than the same run on one device). Only shapes and
    dtypes are needed: this builds from the dataset's ``element_spec`` instead
    (`meld_tf.workarounds.build_from_element_spec`).
    """
    if not _is_distributed(strategy):
        return model  # Keras builds from a plain batch
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        model.train_step = _with_vector_logs(model.train_step)
        model.test_step = _with_vector_logs(model.test_step)
    return workarounds.build_from_element_spec(model, strategy)


def local_copy(model, strategy):
    """``model`` itself, or under a strategy a copy on this process's default device.

    A model built under ``MirroredStrategy`` runs ``predict_on_batch`` on every replica and
    concatenates the answers; the copy predicts each example once, needs no other worker,
    and saves plain (not mirrored) variables.
    """
    if not _is_distributed(strategy):
        return model
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _is_distributed(strategy):
    """Whether ``strategy`` is other than the default (one device) strategy."""
    return not (strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy())


def _with_vector_logs(step):
    """``step`` with its scalar logs reshaped to ``(1,)``."""

    def vector_step(data):
        logs = step(data)
        return {k: tf.reshape(v, [1]) if v.shape.rank == 0 else v for k, v in logs.items()}

    return vector_step
