"""Each private-API workaround of `meld_tf.workarounds` still finds what it relies on.

A failure here after an upgrade of keras, tensorflow, keras-tuner or Python names the
workaround to revisit; a failing ``..._public_api_still_lacks_...`` test means the
workaround may be replaced by the public API.
"""

import argparse
import inspect

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from meld_tf import workarounds

# in_multi_worker_mode


def test_in_multi_worker_mode_reads_the_private_method():
    from tensorflow.python.distribute.collective_all_reduce_strategy import (
        CollectiveAllReduceExtended,
    )

    assert callable(getattr(tf.distribute.StrategyExtended, "_in_multi_worker_mode", None))
    # MultiWorkerMirroredStrategy answers for itself (True with several workers).
    assert "_in_multi_worker_mode" in vars(CollectiveAllReduceExtended)
    assert workarounds.in_multi_worker_mode(tf.distribute.get_strategy()) is False
    assert workarounds.in_multi_worker_mode(tf.distribute.MirroredStrategy(["/cpu:0"])) is False


def test_in_multi_worker_mode_public_api_still_lacks_it():
    public = [name for name in dir(tf.distribute.StrategyExtended) if not name.startswith("_")]
    assert not [name for name in public if "worker_mode" in name or "multi_worker" in name]


# build_from_element_spec


def test_symbolic_build_hooks_keep_their_signatures():
    maybe_build = inspect.signature(keras.Model._maybe_symbolic_build)
    assert list(maybe_build.parameters) == ["self", "iterator", "data_batch"]
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters


def test_fit_under_a_strategy_builds_from_the_element_spec():
    """``fit`` calls the hook with its iterator, whose dataset gives the element spec, and
    the model (layers, compiled metrics, optimizer) is built from it, bool inputs too."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        values = keras.Input((3,), name="values")
        mask = keras.Input((3,), dtype="bool", name="mask")
        masked = keras.layers.Lambda(lambda t: t[0] * keras.ops.cast(t[1], "float32"))(
            [values, mask]
        )
        model = keras.Model({"values": values, "mask": mask}, keras.layers.Dense(2)(masked))
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    seen = []
    workarounds.build_from_element_spec(model, strategy)
    patched = model._maybe_symbolic_build

    def recording(iterator=None, data_batch=None):
        seen.append(iterator.data_adapter.get_tf_dataset().element_spec if iterator else None)
        patched(iterator=iterator, data_batch=data_batch)

    model._maybe_symbolic_build = recording
    inputs = {"values": np.ones((4, 3), np.float32), "mask": np.ones((4, 3), bool)}
    data = tf.data.Dataset.from_tensor_slices((inputs, np.zeros((4, 2), np.float32))).batch(2)
    model.fit(data, epochs=1, verbose=0)
    assert seen and seen[0][0]["mask"].dtype == tf.bool
    assert model.optimizer.built and model.compiled_metrics is not None
    # (Keras's own hook fails for bool inputs only with several replicas, which need
    # logical devices set before TensorFlow starts: tests/test_distribute.py runs that.)


# set_option_help


def test_parser_actions_list_the_added_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", help="run folder")
    assert any("--out" in action.option_strings for action in parser._actions)
    workarounds.set_option_help(parser, "--out", "search folder")
    assert "search folder" in parser.format_help() and "run folder" not in parser.format_help()


def test_argparse_public_api_still_lacks_a_way_to_find_an_argument():
    public = {name for name in dir(argparse.ArgumentParser) if not name.startswith("_")}
    assert not public & {"actions", "get_argument", "get_action", "find_action", "arguments"}


# cap_hyperband_trials


def _hyperband(tmp_path):
    def build(hp):  # Declares the space; the test never trains.
        hp.Float("rate", 0.0, 1.0)

    return keras_tuner.Hyperband(
        hypermodel=build, objective="val_loss", max_epochs=9, factor=3, seed=0,
        directory=str(tmp_path),
    )  # fmt: skip


def test_max_trials_stops_a_hyperband_oracle(tmp_path):
    tuner = _hyperband(tmp_path)
    assert tuner.oracle.max_trials is None  # Hyperband's schedule alone decides.
    first = tuner.oracle.create_trial("tuner0")
    assert first.status == "RUNNING"
    workarounds.cap_hyperband_trials(tuner, 1)
    assert tuner.oracle.create_trial("tuner1").status == "STOPPED"


def test_hyperband_public_api_still_lacks_max_trials():
    for function in (keras_tuner.Hyperband.__init__, keras_tuner.oracles.HyperbandOracle.__init__):
        assert "max_trials" not in inspect.signature(function).parameters


# einsum_through_tf_einsum


def _graph_ops(function, *args):
    graph = tf.function(function).get_concrete_function(*args).graph
    return {op.type for op in graph.get_operations()}


def test_keras_float_einsum_is_still_a_broadcast_matmul():
    """Keras's own TensorFlow einsum (kept as ``KERAS_EINSUM``) still multiplies a 3-D input
    by an EinsumDense kernel with a batch matmul, not ``tf.einsum``: when this fails, the
    workaround can go."""
    x, kernel = tf.zeros((2, 5, 6)), tf.zeros((6, 3, 4))
    ops_used = _graph_ops(lambda a, b: workarounds.KERAS_EINSUM("abc,cde->abde", a, b), x, kernel)
    assert any(op.startswith("BatchMatMul") for op in ops_used) and "Einsum" not in ops_used


def test_einsum_workaround_computes_float_einsums_with_tf_einsum():
    import meld_tf  # noqa: F401  (applies it)

    assert workarounds.keras_tf_numpy.einsum.replaces is workarounds.KERAS_EINSUM
    rng = np.random.default_rng(0)
    x, kernel = rng.random((2, 5, 6), np.float32), rng.random((6, 3, 4), np.float32)
    ops_used = _graph_ops(lambda a, b: keras.ops.einsum("abc,cde->abde", a, b),
                          tf.constant(x), tf.constant(kernel))  # fmt: skip
    assert "Einsum" in ops_used
    np.testing.assert_allclose(keras.ops.einsum("abc,cde->abde", x, kernel),
                               np.einsum("abc,cde->abde", x, kernel), rtol=1e-5)  # fmt: skip
    mixed = keras.ops.einsum("ab,bc->ac", tf.ones((2, 3), tf.bfloat16), tf.ones((3, 4)))
    assert mixed.dtype == tf.float32  # Keras's result type of the operands
    integers = keras.ops.einsum("ab,bc->ac", tf.ones((2, 3), tf.int8), tf.ones((3, 4), tf.int8))
    assert integers.dtype == tf.int32 and int(integers[0, 0]) == 3  # Keras's own path
    layer = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 4))
    assert layer(tf.ones((2, 5, 3))).shape == (2, 5, 4)
