"""Hyperparameter search (tuning/): the hypermodel, the search CLI, resume, distributed.

Tiny bilstm text models on the built-in sample; every search trains 1-2 epochs.
"""

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import keras_tuner
import pytest

from meld_tf import run_folder
from meld_tf import train as train_cli
from meld_tf.config import FUSIONS, ModelConfig
from meld_tf.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tuning/` is a folder of scripts beside the package.

from tuning import search as search_cli  # noqa: E402
from tuning import settings as search_settings  # noqa: E402
from tuning import tuners  # noqa: E402
from tuning.hypermodel import MeldHyperModel, SearchSpace, sample_config  # noqa: E402
from tuning.summary import TRIAL_RECORD, load_trials  # noqa: E402

TINY_SPACE = SearchSpace(hidden_dim=(4, 8), latent_dim=(4, 8), learning_rate=(1e-3, 1e-2))
DISTRIBUTED_TIMEOUT_S = 600  # Three TensorFlow processes on 2 shared cores: minutes.
FUSION_LAYERS = {"attention": "AttentionFusion", "concat": "ConcatFusion", "late": "LateFusion"}


@pytest.fixture(scope="module")
def tiny_base(sample_data_dir):
    """A tiny text-only bilstm run on the prepared sample: 2 epochs, batch 16."""
    model = ModelConfig(
        modalities=("text",),
        text_encoder="bilstm",
        text_vocab_size=200,
        text_embedding_dim=8,
        text_lstm_units=4,
        text_max_length=16,
        latent_dim=4,
        hidden_dim=4,
    )
    return TrainConfig(
        model=model, dataset="sample", data_dir=str(sample_data_dir), epochs=2, learning_rate=3e-3
    )


@pytest.fixture
def cli_files(tmp_path, tiny_base):
    """``--config`` and ``--space`` files of the tiny base config and search space."""
    base_path, space_path = tmp_path / "base.json", tmp_path / "space.json"
    tiny_base.save(base_path)
    space_path.write_text(json.dumps(TINY_SPACE.to_dict()))
    return ["--config", str(base_path), "--space", str(space_path)]


def trial_records(out):
    return {t["trial_id"]: t for t in load_trials(os.path.join(out, search_cli.PROJECT))}


def test_default_hyperparameters_are_the_base_config(tiny_base):
    hp = keras_tuner.HyperParameters()
    assert sample_config(hp, tiny_base, SearchSpace()) == tiny_base
    # A base value outside the space joins it, so the baseline stays a point of the space.
    assert {h.name: h for h in hp.space}["hidden_dim"].values == [4, 64, 128, 256]
    assert hp.values["learning_rate"] == tiny_base.learning_rate
    pinned = keras_tuner.HyperParameters()
    pinned.Fixed("batch_size", 32)
    assert sample_config(pinned, tiny_base, SearchSpace()).batch_size == 32
    # Other audio features never read the base's file cache of preprocessed examples.
    cached = tiny_base.replace(modalities=("text", "audio"), cache="/c/meld")
    pinned.Fixed("audio_features", "mfcc")
    assert sample_config(pinned, cached, SearchSpace()).cache == "/c/meld-mfcc"
    assert sample_config(keras_tuner.HyperParameters(), cached, SearchSpace()) == cached


def test_baseline_builds_and_trains_one_step(tiny_base):
    hypermodel = MeldHyperModel(tiny_base, TINY_SPACE)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(tiny_base.learning_rate)
    before = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        history = hypermodel.fit(hp, model, epochs=1, steps_per_epoch=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]  # as the training CLI fits
    assert any((a != b).any() for a, b in zip(before, model.get_weights()))
    # Every objective the CLI accepts is a key of the real logs.
    assert set(search_settings.logged_metrics()) <= set(history.history)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_each_fusion_builds(tiny_base, fusion):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("fusion", fusion)
    model = MeldHyperModel(tiny_base.replace(modalities=("text", "audio")), TINY_SPACE).build(hp)
    assert type(model.get_layer("fusion")).__name__ == FUSION_LAYERS[fusion]
    keras.backend.clear_session()


@pytest.mark.parametrize("tuner", sorted(tuners.TUNERS))
def test_each_tuner_is_made_with_the_objective(tmp_path, tiny_base, tuner):
    settings = search_settings.SearchSettings(
        base=tiny_base, tuner=tuner, objective="val_sentiment_weighted_f1", max_trials=5
    )
    made = search_cli.make_tuner(settings, str(tmp_path))
    assert isinstance(made, tuners.TUNERS[tuner])
    assert made.oracle.objective.name == "val_sentiment_weighted_f1"
    assert made.oracle.objective.direction == "max"
    assert made.oracle.max_trials == 5  # A cap on Hyperband's own schedule too.
    assert made.oracle.get_space().get("fusion") == tiny_base.model.fusion
    assert search_settings.objective_direction("val_loss") == "min"
    keras.backend.clear_session()


def test_search_resumes_and_its_best_config_retrains_to_the_same_score(
    tmp_path, cli_files, capsys
):
    # A 2-trial random search, "interrupted" there, resumed up to 3 trials.
    out = str(tmp_path / "search")
    flags = [*cli_files, "--tuner", "random", "--out", out]
    assert search_cli.main([*flags, "--max-trials", "2"]) == 0
    first = trial_records(out)
    assert sorted(first) == ["0", "1"]
    records = {i: Path(out, search_cli.PROJECT, f"trial_{i}", TRIAL_RECORD).read_text()
               for i in first}  # fmt: skip
    assert search_cli.main(["--resume", "--out", out, "--max-trials", "3"]) == 0
    trials = trial_records(out)
    assert sorted(trials) == ["0", "1", "2"]  # Exactly one new trial ...
    for i, record in records.items():  # ... and the finished ones were not run again.
        assert Path(out, search_cli.PROJECT, f"trial_{i}", TRIAL_RECORD).read_text() == record
    assert all(t["status"] == "COMPLETED" and t["epochs"] >= 1 for t in trials.values())
    assert len({json.dumps(t["hyperparameters"], sort_keys=True) for t in trials.values()}) == 3

    # The summary: one row per trial, best first.
    capsys.readouterr()
    assert search_cli.main(["--summary", out]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "val_emotion_weighted_f1" in table[0] and len(table) == 2 + 3
    best = max(trials.values(), key=lambda t: t["score"])
    assert table[2].split()[0] == best["trial_id"]

    # The best config, replayed by the training CLI (into tmp_path, not runs/).
    config = TrainConfig.load(Path(out, search_cli.BEST_CONFIG))
    assert config.learning_rate == best["hyperparameters"]["learning_rate"]
    assert config.model.fusion == best["hyperparameters"]["fusion"]
    assert config.batch_size == best["hyperparameters"]["batch_size"]
    assert config.out == "" and config.dataset == "sample" and config.dataset_version
    replay = tmp_path / "replay.json"
    config.replace(out=str(tmp_path / "run")).save(replay)
    run_dir = train_cli.main(["--config", str(replay)])
    scores = [float(row["val_emotion_weighted_f1"]) for row in run_folder.read_history(run_dir)]
    # Same seed, same data order, same steps on the same CPU: the same score.
    assert max(scores) == pytest.approx(best["score"], abs=1e-6)
    assert scores.index(max(scores)) + 1 == best["best_epoch"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tuner", "grid"], "invalid choice: 'grid'"),
        (["--objective", "val_emotion_f1"], "val_emotion_weighted_f1"),
        (["--objective", "emotion_weighted_f1"], "not a validation log key"),
        (["--resume"], "--resume needs --out"),
        (["--max-trials", "0"], "max_trials 0 must be at least 1"),
    ],
)
def test_bad_flags_fail_before_any_trial(tmp_path, argv, message, capsys):
    out = tmp_path / "search"
    with pytest.raises(SystemExit) as exit_info:
        search_cli.main([*argv, "--out", str(out)] if "--resume" not in argv else argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_resume_refuses_new_settings(tmp_path, cli_files, capsys):
    out = tmp_path / "search"
    out.mkdir()
    search_settings.SearchSettings(tuner="random").save(out / search_cli.SEARCH_FILE)
    with pytest.raises(SystemExit):
        search_cli.main(["--resume", "--out", str(out), "--tuner", "bayesian"])
    assert "only --max-trials may change, but --tuner given" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # A fresh search never reuses a search folder.
        search_cli.main([*cli_files, "--out", str(out)])
    assert "pass --resume" in capsys.readouterr().err


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.large
def test_distributed_search_chief_and_two_workers(tmp_path, cli_files):
    out = tmp_path / "shared"
    argv = [
        sys.executable, str(ROOT / "tuning" / "search.py"), *cli_files,
        "--tuner", "random", "--max-trials", "3", "--max-epochs", "1", "--out", str(out),
    ]  # fmt: skip
    env = {
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(_free_port()),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    processes = {}
    try:
        for tuner_id in ("chief", "tuner0", "tuner1"):
            log = open(tmp_path / f"{tuner_id}.log", "w")  # noqa: SIM115 (closed below)
            processes[tuner_id] = (
                subprocess.Popen(
                    argv, env={**env, "KERASTUNER_TUNER_ID": tuner_id}, stdout=log,
                    stderr=subprocess.STDOUT, cwd=tmp_path,
                ),
                log,
            )  # fmt: skip
        deadline = time.monotonic() + DISTRIBUTED_TIMEOUT_S
        for process, _ in processes.values():
            process.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for process, log in processes.values():
            if process.poll() is None:
                process.kill()
            log.close()
    logs = {tuner_id: (tmp_path / f"{tuner_id}.log").read_text() for tuner_id in processes}
    for tuner_id, (process, _) in processes.items():
        assert process.returncode == 0, f"{tuner_id} failed:\n{logs[tuner_id][-3000:]}"

    trials = trial_records(out)
    assert sorted(trials) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" for t in trials.values())
    ran = {tuner_id: {i for i, t in trials.items() if t["tuner_id"] == tuner_id}
           for tuner_id in ("tuner0", "tuner1")}  # fmt: skip
    assert ran["tuner0"] and ran["tuner1"], ran  # Both workers trained ...
    assert not ran["tuner0"] & ran["tuner1"]  # ... distinct trials ...
    assert ran["tuner0"] | ran["tuner1"] == set(trials)  # ... and the chief none.
    # The chief's table lists every trial and it wrote the best config.
    table = logs["chief"].split("Search finished")[1]
    rows = [line.split()[0] for line in table.splitlines()[3:] if line.strip()][: len(trials)]
    assert sorted(rows) == sorted(trials)
    assert (out / search_cli.BEST_CONFIG).is_file()


@pytest.mark.parametrize(
    "space, message",
    [
        ({"hidden_dim": (0, 8)}, r"SearchSpace.hidden_dim: hidden_dim 0 \(--hidden-dim\) must be"),
        ({"batch_size": (16, -1)}, r"batch_size -1 \(--batch-size\) must be at least 1"),
        ({"dropout": (0.3, 1.5)}, r"dropout 1.5 \(--dropout\) must be at least 0 and less than 1"),
        ({"fusion": ("sum",)}, r"Unknown fusion 'sum' \(--fusion\)"),
    ],
)
def test_a_search_space_gets_the_checks_of_a_training_run(space, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(**space)
