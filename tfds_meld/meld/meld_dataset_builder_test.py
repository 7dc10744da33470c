"""Tests of the MELD TFDS builder, on small synthetic MELD trees and archives made at test time.

Archive handling itself (layouts, safety, reuse) is tested in `meld_files_test`,
`meld_layout_test` and `meld_unpack_test`.
"""

import csv
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow_datasets as tfds

from meld_tf.data.sample import SAMPLE_FAULTS, SampleConfig
from tfds_meld.meld import meld_dataset_builder, meld_files, meld_layout

TFDS_SPLITS = meld_dataset_builder.TFDS_SPLITS
SMALL = SampleConfig().min_dialogues  # the smallest sample that holds every fault
SMALL_SAMPLE = meld_dataset_builder.sample_config(SMALL)


def _csv_rows(root):
    """MELD split -> rows of its CSV, read independently with the csv module."""
    rows = {}
    for split, name in meld_layout.CSV_NAMES.items():
        with open(pathlib.Path(root) / name, encoding="utf-8", newline="") as f:
            rows[split] = list(csv.DictReader(f))
    return rows


def _prepare(config, data_dir, manual_dir=None):
    builder = meld_dataset_builder.Builder(config=config, data_dir=str(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir and str(manual_dir))
    )
    return builder


def _num_examples(builder):
    return {s: builder.info.splits[s].num_examples for s in TFDS_SPLITS.values()}


class MeldSampleTest(tfds.testing.DatasetBuilderTestCase):
    """The ``sample`` (small) and ``text`` configs over a generated tree (the dummy data)."""

    DATASET_CLASS = meld_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [SMALL_SAMPLE, "text"]
    SKIP_CHECKSUMS = True
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.mkdtemp(prefix="meld_dummy_")
        # download_dir and manual_dir both point at the dummy folder in the test: the sample
        # config finds its tree in downloads/meld_tf/<config name>, `text` finds the CSVs.
        root = meld_files.prepare_sample(pathlib.Path(cls._tmp) / "meld_tf" / SMALL_SAMPLE.name,
                                         SMALL)
        cls.EXAMPLE_DIR = cls._tmp
        cls.SPLITS = {TFDS_SPLITS[s]: len(rows) for s, rows in _csv_rows(root).items()}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls._tmp, ignore_errors=True)


def test_full_config_from_real_archive(small_root, raw_archive, tmp_path, capsys):
    """`full` from MELD.Raw.tar.gz as really laid out (train CSV inside train.tar.gz): every
    CSV row is kept, every clip fault is a flagged example and a summary line."""
    builder = _prepare("full", tmp_path / "data", raw_archive.parent)
    output = capsys.readouterr()
    summary = output.out
    rows = _csv_rows(small_root)
    assert _num_examples(builder) == {TFDS_SPLITS[s]: len(r) for s, r in rows.items()}
    # Unpacked once, inner archives read from the stream (never written), with progress bars.
    work = tmp_path / "data" / "downloads" / "meld_tf"
    assert not list(work.rglob("*.tar.gz"))
    assert "Unpacking MELD.Raw.tar.gz" in output.err and "Decoding train clips" in output.err

    faults = {  # fault -> (audio kept, video kept)
        "missing_clip": (False, False), "truncated_clip": (False, False),
        "long_clip": (False, False), "no_audio": (False, True),
    }  # fmt: skip
    flagged = {}
    for split in TFDS_SPLITS.values():
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            key = f"dia{ex['dialogue_id']}_utt{ex['utterance_id']}"
            flagged[(split, key)] = (bool(ex["has_audio"]), bool(ex["has_video"]))
            if not ex["has_audio"]:
                assert ex["audio"].shape == (0,)
            else:
                assert ex["audio"].dtype == np.int16 and ex["audio"].size > 0
            assert ex["frames"].shape == (8, 112, 112, 3)
            if not ex["has_video"]:
                assert not ex["frames"].any() and not ex["has_face"]
    problems = set()
    for fault, expected in faults.items():
        for split, key in SAMPLE_FAULTS[fault]:
            tfds_key = (TFDS_SPLITS[split], key)
            assert flagged[tfds_key] == expected, fault
            problems.add(tfds_key)
            assert f"{tfds_key[0]}/{key}: " in summary, (fault, summary)
    # Every other clip decoded, the final_videos_test ones included.
    assert all(v == (True, True) for k, v in flagged.items() if k not in problems)
    assert "MELD build summary (config 'full')" in summary
    assert f"{len(problems)} examples kept with their text" in summary


def test_text_config_from_archive_only(small_root, raw_archive, tmp_path):
    """`text` given only the real archive: the train CSV comes out of train.tar.gz, and the
    texts are those of the CSVs."""
    builder = _prepare("text", tmp_path / "data", raw_archive.parent)
    rows = _csv_rows(small_root)
    assert _num_examples(builder) == {TFDS_SPLITS[s]: len(r) for s, r in rows.items()}
    unpacked = tmp_path / "data" / "downloads" / "meld_tf" / "unpacked"
    assert sorted(p.name for p in unpacked.rglob("*") if p.is_file() and p.name[0] != ".") == \
        sorted(meld_layout.CSV_NAMES.values())
    speakers = {(int(r["Dialogue_ID"]), int(r["Utterance_ID"])): r["Speaker"]
                for r in rows["train"]}
    built = {(int(ex["dialogue_id"]), int(ex["utterance_id"])): ex["speaker"].decode()
             for ex in tfds.as_numpy(builder.as_dataset(split="train"))}
    assert built == speakers


def test_changed_generator_rebuilds_sample(tmp_path, capsys, monkeypatch):
    """A sample built by another generator (another fingerprint) is rebuilt on the next use,
    and the build says which sample version it made."""
    data_dir = tmp_path / "data"
    monkeypatch.setattr(meld_dataset_builder, "sample_fingerprint", lambda *a: "aaaaaaaaaaaa")
    monkeypatch.setattr(meld_files, "sample_fingerprint", lambda *a: "aaaaaaaaaaaa")
    first = _prepare(SMALL_SAMPLE, data_dir)
    assert "sample version aaaaaaaaaaaa" in capsys.readouterr().out
    assert first.is_prepared()
    assert meld_dataset_builder.Builder(config=SMALL_SAMPLE, data_dir=str(data_dir)).is_prepared()

    # The generator changes: the build is stale, and preparing makes the new sample.
    monkeypatch.setattr(meld_dataset_builder, "sample_fingerprint", lambda *a: "bbbbbbbbbbbb")
    monkeypatch.setattr(meld_files, "sample_fingerprint", lambda *a: "bbbbbbbbbbbb")
    stale = meld_dataset_builder.Builder(config=SMALL_SAMPLE, data_dir=str(data_dir))
    assert not stale.is_prepared()
    second = _prepare(SMALL_SAMPLE, data_dir)
    out = capsys.readouterr().out
    assert "built from sample version aaaaaaaaaaaa" in out and "rebuilding" in out
    assert "sample version bbbbbbbbbbbb" in out
    assert second.is_prepared() and second.built_sample_version() == "bbbbbbbbbbbb"
    tree = data_dir / "downloads" / "meld_tf" / SMALL_SAMPLE.name
    assert (tree / meld_files._DONE).read_text() == "bbbbbbbbbbbb"


def test_tfds_build_cli_from_real_archive(small_root, raw_archive, tmp_path):
    """What a user types: `tfds build tfds_meld/meld --config full|text --manual_dir DIR`
    with only MELD.Raw.tar.gz in DIR; every CSV row is kept and the summary printed."""
    tfds_cli = pathlib.Path(sys.executable).parent / "tfds"
    rows = _csv_rows(small_root)
    for config in ("text", "full"):
        done = subprocess.run(
            [str(tfds_cli), "build", str(pathlib.Path(__file__).parent), "--config", config,
             "--manual_dir", str(raw_archive.parent), "--data_dir", str(tmp_path / "data")],
            capture_output=True, text=True, cwd=tmp_path, timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"MELD build summary (config '{config}')" in done.stdout
        builder = meld_dataset_builder.Builder(config=config, data_dir=str(tmp_path / "data"))
        assert _num_examples(builder) == {TFDS_SPLITS[s]: len(r) for s, r in rows.items()}
    clip_faults = ("missing_clip", "truncated_clip", "long_clip", "no_audio")
    num_faults = sum(len(SAMPLE_FAULTS[fault]) for fault in clip_faults)
    assert f"{num_faults} examples kept with their text" in done.stdout
