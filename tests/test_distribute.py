"""Training under tf.distribute on CPU: mirrored over two logical devices, and two workers.

Each run is a subprocess: logical devices and TF_CONFIG must be set before TensorFlow
starts, and a worker of a cluster is a process of its own.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from meld_tf import distribute
from meld_tf.train_config import TrainConfig

TIMEOUT = 600  # seconds: a hung collective fails the test instead of blocking the suite
TINY_TEXT = [
    "--dataset", "sample", "--modalities", "text", "--text-encoder", "bilstm",
    "--text-max-length", "16", "--latent-dim", "8", "--hidden-dim", "8", "--lr", "0.003",
    "--dropout", "0", "--modality-dropout", "0",
    "--no-bucket-by-length",  # What several replicas use: the single device batches alike.
]  # fmt: skip

# Single device vs mirrored over two logical CPUs, each interrupted after epoch 1 and
# resumed (BackupAndRestore), with the same global batch and seed.
MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    import keras, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from meld_tf import distribute, run_folder, train, trainer

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    args = json.loads(sys.argv[1])
    result = {"replicas": distribute.make_strategy("mirrored").num_replicas_in_sync}
    for strategy in ("auto", "mirrored"):
        out = f"{args['tmp']}/{strategy}"
        config = train.config_from_args(train.build_parser().parse_args(
            [*args["flags"], "--strategy", strategy, "--out", out]))
        config = config.replace(max_examples=args["max_examples"])
        try:
            trainer.train(config, callbacks=[Interrupt()], verbose=False)
        except KeyboardInterrupt:
            pass
        run = trainer.train(config, verbose=False)  # resumes at epoch 2
        with open(f"{run}/metrics.json") as f:
            metrics = json.load(f)
        result[strategy] = {"history": run_folder.read_history(run), "metrics": metrics}
    print("RESULT " + json.dumps(result))
""")


# One worker of a multi-worker run: the CLI's flags, and a file for its final weights.
WORKER_SCRIPT = textwrap.dedent("""
    import sys
    import keras, numpy as np
    from meld_tf import train, trainer

    class SaveWeights(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            np.savez(sys.argv[1], *[np.asarray(w) for w in self.model.get_weights()])

    config = train.config_from_args(train.build_parser().parse_args(sys.argv[2:]))
    trainer.train(config, callbacks=[SaveWeights()])
""")


def _run(command, env=None, timeout=TIMEOUT):
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    return env


def test_mirrored_equals_single_device_and_resumes(sample_data_dir, tmp_path):
    flags = [*TINY_TEXT, "--data-dir", str(sample_data_dir), "--epochs", "2",
             "--batch-size", "16", "--patience", "5",
             "--precision", "fp32"]  # equal to 1e-4 (auto is bf16 on an AMX CPU)  # fmt: skip
    args = {"flags": flags, "tmp": str(tmp_path), "max_examples": 48}  # 3 full batches
    done = _run([sys.executable, "-c", MIRRORED_SCRIPT, json.dumps(args)], env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["replicas"] == 2
    single, mirrored = result["auto"], result["mirrored"]
    assert [int(r["epoch"]) for r in mirrored["history"]] == [0, 1]  # resumed, not re-run
    for one, two in zip(single["history"], mirrored["history"]):
        for key in ("loss", "emotion_accuracy", "val_loss", "val_emotion_weighted_f1"):
            assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-4, abs=1e-6), key
    # Training changed the model, and both runs scored it the same.
    assert float(single["history"][1]["loss"]) != float(single["history"][0]["loss"])
    for split in ("validation", "test"):
        assert mirrored["metrics"][split]["emotion"]["confusion_matrix"] == (
            single["metrics"][split]["emotion"]["confusion_matrix"]
        )


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_trains_one_model(sample_data_dir, tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    out, weights = tmp_path / "run", tmp_path / "weights"
    weights.mkdir()
    flags = [*TINY_TEXT, "--strategy", "multi_worker", "--data-dir", str(sample_data_dir),
             "--epochs", "1", "--batch-size", "32", "--out", str(out)]  # fmt: skip
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = _env(TF_CONFIG=json.dumps(tf_config), TMPDIR=str(tmp_path / f"tmp{index}"))
        os.makedirs(env["TMPDIR"])
        command = [sys.executable, "-c", WORKER_SCRIPT, str(weights / f"{index}.npz"), *flags]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
    try:
        outputs = [proc.communicate(timeout=TIMEOUT)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    # One model, in the chief's folder; worker 1 wrote only to its temporary folder, removed.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "tmp0", "tmp1", "weights"]
    assert not list((tmp_path / "tmp1").iterdir())
    # The workers end with one synchronised model: the same weights, which the chief saved.
    chief, other = (np.load(weights / f"{index}.npz") for index in range(2))
    assert len(chief.files) == len(other.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], other[name])
    saved = keras.models.load_model(out / "model.keras", compile=False).get_weights()
    for name, value in zip(chief.files, saved, strict=True):
        np.testing.assert_allclose(chief[name], value, rtol=0, atol=0)
    with open(out / "metrics.json", encoding="utf-8") as file:
        metrics = json.load(file)
    assert metrics["epochs_run"] == 1
    assert TrainConfig.load(out / "config.json").strategy == "multi_worker"
    assert os.path.isfile(out / "model.keras") and not os.path.exists(out / "backup")
    assert "Saved to " + str(out) in outputs[0]


def test_strategy_choices_and_errors(monkeypatch):
    gpus = tf.config.list_logical_devices("GPU")  # The answers depend on the host.
    auto = distribute.make_strategy("auto")
    if len(gpus) > 1:
        assert isinstance(auto, tf.distribute.MirroredStrategy)
        assert auto.num_replicas_in_sync == len(gpus)
    else:
        assert auto is tf.distribute.get_strategy()
    assert distribute.is_chief(tf.distribute.get_strategy())
    for strategy in (tf.distribute.get_strategy(), auto):
        for precision, policy in distribute.POLICIES.items():  # A choice is kept.
            assert distribute.precision_policy(strategy, precision) == policy
    bf16_cpu = set(distribute.BF16_CPU_FLAGS) & distribute.cpu_flags()
    expected = "float32" if gpus or not bf16_cpu else "mixed_bfloat16"
    assert distribute.precision_policy(tf.distribute.get_strategy(), "auto") == expected
    # The other kind of host, simulated: with a GPU, auto is float32 whatever the CPU.
    real = tf.config.list_logical_devices
    fake = [] if gpus else [tf.config.LogicalDevice("/device:GPU:0", "GPU")]
    monkeypatch.setattr(
        tf.config, "list_logical_devices", lambda kind=None: fake if kind == "GPU" else real(kind)
    )
    monkeypatch.setattr(distribute, "cpu_flags", lambda: {"avx512_bf16"})
    other = "mixed_bfloat16" if gpus else "float32"
    assert distribute.precision_policy(tf.distribute.get_strategy(), "auto") == other
    monkeypatch.undo()
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'"):
        distribute.make_strategy("gpu")
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'"):
        TrainConfig(strategy="gpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        distribute.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match="not a valid cluster description"):
        distribute.make_strategy("multi_worker")
