"""Every reach into a library's private API, in one place.

Each function names the version it was written against (keras 3.15.1, tensorflow 2.21.0,
keras-tuner 1.4.8, CPython 3.11), what it relies on, and why no public API does the job.
`tests/test_workarounds.py` checks, per function, that what it relies on still exists and
behaves as relied on (so that an upgrade fails there, by name, rather than somewhere in a
training run), and, where it can, that the public API still lacks what it supplies: when
that test fails, the workaround can go.
"""

import keras
import tensorflow as tf
from keras.src.backend.tensorflow import numpy as keras_tf_numpy

KERAS_EINSUM = keras_tf_numpy.einsum  # Keras's own, kept for the float-only replacement.


def einsum_through_tf_einsum():
    """Makes Keras's TensorFlow backend compute float einsums with ``tf.einsum``.

    Relies on ``keras.src.backend.tensorflow.numpy.einsum`` (keras 3.15.1), which
    ``keras.ops.einsum`` looks up on that module at each call; every ``EinsumDense`` (the
    query, key, value and output projections of KerasHub's BERT and of
    ``keras.layers.MultiHeadAttention``) calls it. For about twenty equations it computes
    with ``tf.matmul`` on reshaped operands instead of ``tf.einsum`` ("Remove the
    condition once `tf.einsum` supports int8xint8->int32", says its source): for
    ``"abc,cde->abde"`` that is a batch matmul that broadcasts the kernel over the batch,
    whose kernel gradient is a batch of products summed afterwards. A query projection of
    MiniLM (batch 32 x 40 tokens, forward and backward) then took 23.0 ms against
    ``tf.einsum``'s 7.9 ms and PyTorch's 7.4 ms, and a whole encoder layer 1.42x
    PyTorch's time against 0.95x (``bench/op_speed.py``, 2-core AVX2 EPYC, 2026-12-01).
    Only static shapes take that path: length-bucketed batches already reached
    ``tf.einsum``; fixed-length batches and serving gain. Integer operands
    keep Keras's path (int8 x int8 -> int32). No public API chooses the kernel of
    ``ops.einsum``. Idempotent; ``import meld_tf`` calls it.
    """

    def einsum(subscripts, *operands, **kwargs):
        operands = [tf.convert_to_tensor(x) for x in operands]
        dtypes = [x.dtype for x in operands]
        if not all(d.is_floating for d in dtypes):
            return KERAS_EINSUM(subscripts, *operands, **kwargs)
        dtype = keras.backend.result_type(*[d.name for d in dtypes])
        return tf.einsum(subscripts, *[tf.cast(x, dtype) for x in operands], **kwargs)

    einsum.replaces = KERAS_EINSUM
    keras_tf_numpy.einsum = einsum


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` spans several workers (processes, usually machines).

    Relies on ``strategy.extended._in_multi_worker_mode()`` (tensorflow 2.21.0; defined by
    every ``StrategyExtended``, overridden by ``MultiWorkerMirroredStrategy``'s). Used by
    `meld_tf.distribute.shard_by_data` to shard a cached dataset by data. TensorFlow has no
    public equivalent: ``num_replicas_in_sync`` counts replicas (devices), not workers, and
    ``cluster_resolver`` is also set for a one-worker ``MultiWorkerMirroredStrategy``. Keras
    makes the same call to choose its own sharding.
    """
    return strategy.extended._in_multi_worker_mode()  # noqa: SLF001


def build_from_element_spec(model, strategy):
    """Makes ``model.fit`` / ``evaluate`` under ``strategy`` build ``model`` from the
    dataset's ``element_spec``; returns ``model``.

    Relies on (keras 3.15.1, ``keras/src/backend/tensorflow/trainer.py``)
    ``model._maybe_symbolic_build(iterator=None, data_batch=None)``, which ``fit`` and
    ``evaluate`` call with ``iterator=`` their ``EpochIterator`` (whose
    ``data_adapter.get_tf_dataset()`` is the dataset) and the ``*_on_batch`` methods with
    ``data_batch=``, and on ``model._symbolic_build(data_batch=...)``, which builds the
    layers, the compiled loss and metrics and the optimizer from symbolic inputs.

    Why: Keras 3.15 builds a model under a strategy from the first batch averaged across
    replicas (``strategy.reduce("MEAN", ...)``), which fails for bool inputs such as
    ``text_padding_mask`` (``AddN`` has no bool kernel), and reads that batch from an
    iterator of its own, which shifts a reshuffling dataset by one epoch (a run under a
    strategy would see other batches than the same run on one device). Only shapes and
    dtypes are needed, and there is no public hook to supply them: ``fit`` reads and
    averages that first batch however much of the model is already built (``model.build``,
    ``optimizer.build``).
    """

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            data_batch = tf.nest.map_structure(
                lambda spec: keras.KerasTensor(spec.shape, spec.dtype.name),
                iterator.data_adapter.get_tf_dataset().element_spec,
            )
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)  # noqa: SLF001

    model._maybe_symbolic_build = maybe_symbolic_build  # noqa: SLF001
    return model


def set_option_help(parser, option, text):
    """Replaces the help of ``parser``'s flag ``option`` (e.g. ``"--out"``).

    Relies on ``ArgumentParser._actions`` (CPython 3.11 ``argparse``: every added
    ``Action``, with its ``option_strings`` and ``help``). Used by ``tuning/search.py``,
    which reuses the training CLI's parser, where ``--out`` is a search folder, not a run
    folder. argparse hands an ``Action`` out only once, as ``add_argument``'s return value,
    and has no public way to find or change an argument afterwards.
    """
    for action in parser._actions:  # noqa: SLF001
        if option in action.option_strings:
            action.help = text


def cap_hyperband_trials(tuner, max_trials):
    """Caps a ``keras_tuner.Hyperband`` search at ``max_trials`` trials.

    Relies on ``Oracle.max_trials`` (keras-tuner 1.4.8, ``keras_tuner/src/engine/
    oracle.py``): ``Oracle.create_trial`` stops the search once ``len(oracle.trials)``
    reaches it. ``HyperbandOracle`` (and the ``Hyperband`` tuner) take no ``max_trials``:
    its bracket schedule alone sets how many trials run, and it leaves the attribute None;
    setting it after construction is the only way to cap a Hyperband search.
    """
    tuner.oracle.max_trials = max_trials
    return tuner
