"""Tests for meld_tf.dataset: the data folder, is_prepared, load_meld."""

import ast
import pathlib

import numpy as np
import pytest

from meld_tf.dataset import default_data_dir, is_prepared, load_meld, split_sizes

DATA_PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "meld_tf" / "data"


def test_default_data_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert default_data_dir() == str(tmp_path)
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert default_data_dir() == str(pathlib.Path("~/tensorflow_datasets").expanduser())


def test_unknown_config(tmp_path):
    with pytest.raises(ValueError, match="Unknown MELD config 'video'"):
        load_meld("video", data_dir=str(tmp_path))


def test_not_prepared_without_prepare(tmp_path):
    assert not is_prepared("sample", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="tfds build tfds_meld/meld --config sample"):
        load_meld("sample", data_dir=str(tmp_path), prepare=False)


def test_load_sample(sample_data_dir, sample_root):
    """The shared sample: three splits with the sizes of its CSVs and the documented specs."""
    data_dir = str(sample_data_dir)
    assert is_prepared("sample", data_dir=data_dir)
    splits = load_meld("sample", data_dir=data_dir, prepare=False)
    assert sorted(splits) == ["test", "train", "validation"]
    sizes = split_sizes("sample", data_dir=data_dir)
    csv_rows = {
        split: len((sample_root / f"{name}_sent_emo.csv").read_text().splitlines()) - 1
        for split, name in (("train", "train"), ("validation", "dev"), ("test", "test"))
    }
    assert sizes == csv_rows
    example = next(iter(splits["train"].take(1).as_numpy_iterator()))
    assert example["frames"].shape == (8, 112, 112, 3) and example["frames"].dtype == np.uint8
    assert example["audio"].dtype == np.int16
    assert example["text"] and 0 <= example["emotion"] < 7


def test_sample_of_another_size_by_name(tmp_path):
    from meld_tf.dataset import meld_builder
    from meld_tf.train_config import TrainConfig

    builder = meld_builder("sample_7d_s1", str(tmp_path))
    config = builder.builder_config
    assert (config.generated, config.sample_dialogues, config.sample_seed) == (True, 7, 1)
    assert TrainConfig(dataset="sample_7d_s1").dataset == "sample_7d_s1"
    for bad in ("sample_7d", "samples"):
        with pytest.raises(ValueError, match="sample_<N>d_s<SEED>"):
            meld_builder(bad, str(tmp_path))
        with pytest.raises(ValueError, match=r"\(--dataset\)"):
            TrainConfig(dataset=bad)


def test_meld_tf_data_never_imports_the_builder_or_the_loader():
    """``tfds_meld`` is built from ``meld_tf.data``; ``meld_tf.dataset`` loads what it built.
    An import of either from ``meld_tf.data`` would make a loop again."""
    for path in sorted(DATA_PACKAGE.glob("*.py")):
        imported = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported += [f"{node.module}.{alias.name}" for alias in node.names]
        loops = [name for name in imported if name.startswith(("tfds_meld", "meld_tf.dataset"))]
        assert not loops, f"{path.name} imports {loops}"
