"""A run records the data it resolved; a replay keeps it, a resume refuses other data."""

import os

import pytest

from meld_tf import run_data, run_folder, trainer
from meld_tf.dataset import meld_builder
from meld_tf.distribute import resolve_precision
from meld_tf.run_data import RunError, resolve_data
from meld_tf.train_config import TrainConfig


def test_a_run_spells_out_its_data(sample_data_dir):
    request = TrainConfig(data_dir=str(sample_data_dir)).replace(modalities=("text",))
    assert request.dataset == "auto"
    config, reason = resolve_data(request)
    assert config.dataset == "sample" and "synthetic sample" in reason
    assert config.data_dir == os.path.abspath(sample_data_dir)
    builder = meld_builder("sample", str(sample_data_dir))
    assert config.dataset_version == f"{builder.version}+sample.{builder.sample_version()}"
    assert resolve_data(config)[0] == config  # A replay keeps its data.
    with pytest.raises(RunError, match="asks for meld/sample version 0.0.1"):
        resolve_data(config.replace(dataset_version="0.0.1"))


def test_a_replay_refuses_a_changed_sample_generator(sample_data_dir, monkeypatch):
    from tfds_meld.meld import meld_dataset_builder

    config, _ = resolve_data(TrainConfig(dataset="sample", data_dir=str(sample_data_dir)))
    monkeypatch.setattr(meld_dataset_builder, "sample_fingerprint", lambda *a: "0123456789ab")
    with pytest.raises(RunError, match=r"reads version 1\.0\.0\+sample\.0123456789ab"):
        resolve_data(config)


def _unfinished_run(run_dir, config):
    os.makedirs(os.path.join(run_dir, "backup"))
    config.save(os.path.join(run_dir, "config.json"))


def test_a_resume_refuses_other_data(sample_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ is found here
    # The precision as train() settles it before it looks for the run (never "auto").
    request = TrainConfig(data_dir=str(sample_data_dir), precision=resolve_precision("auto"))
    saved, _ = resolve_data(request)
    found = os.path.join("runs", "20260101-000000-text-audio")
    _unfinished_run(found, saved)
    given = tmp_path / "given"
    _unfinished_run(given, saved.replace(out=str(given)))
    assert run_folder.resolve_run_dir(request, saved) == (found, True)
    # Full MELD was prepared since: "auto" now means full, which the runs did not use.
    monkeypatch.setattr(run_data.meld_data, "is_prepared", lambda name, data_dir=None: True)
    for out in ("", str(given)):
        with pytest.raises(RunError, match="on meld/sample .* now meld/full"):
            trainer.train(request.replace(out=out))
    # The run's own config still resumes it, on its own data.
    replay = TrainConfig.load(given / "config.json")
    assert run_folder.resolve_run_dir(replay, resolve_data(replay)[0]) == (str(given), True)
