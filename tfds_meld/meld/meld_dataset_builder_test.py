"""Tests of the MELD TFDS builder, on a small synthetic MELD tree generated at test time."""

import csv
import io
import pathlib
import shutil
import tarfile
import tempfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from meld_tf.data.sample import SAMPLE_FAULTS
from tfds_meld.meld import meld_dataset_builder, meld_files

TFDS_SPLITS = meld_dataset_builder.TFDS_SPLITS
NUM_DIALOGUES = 5  # the smallest sample that holds every fault


def _csv_rows(root):
    """MELD split -> rows of its CSV, read independently with the csv module."""
    rows = {}
    for split, name in meld_files.CSV_NAMES.items():
        with open(pathlib.Path(root) / name, encoding="utf-8", newline="") as f:
            rows[split] = list(csv.DictReader(f))
    return rows


class MeldSampleTest(tfds.testing.DatasetBuilderTestCase):
    """The ``sample`` and ``text`` configs over a generated tree (the dummy data)."""

    DATASET_CLASS = meld_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["sample", "text"]
    SKIP_CHECKSUMS = True
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.mkdtemp(prefix="meld_dummy_")
        # download_dir and manual_dir both point at the dummy folder in the test: the
        # `sample` config finds its tree in downloads/meld_tf/sample, `text` finds the CSVs.
        root = meld_files.prepare_sample(
            pathlib.Path(cls._tmp) / "meld_tf" / "sample", num_dialogues=NUM_DIALOGUES
        )
        cls.EXAMPLE_DIR = cls._tmp
        cls.SPLITS = {TFDS_SPLITS[s]: len(rows) for s, rows in _csv_rows(root).items()}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls._tmp, ignore_errors=True)


# --- Archive handling. ------------------------------------------------------------------------


def _add_tree(tar, folder, arcname):
    for path in sorted(pathlib.Path(folder).iterdir()):
        tar.add(path, arcname=f"{arcname}/{path.name}")


def _make_raw_archive(root, out_dir):
    """MELD.Raw.tar.gz as the real one: CSVs and three inner archives of clip folders."""
    staging = out_dir / "staging"
    staging.mkdir()
    for split in meld_files.SPLITS:
        with tarfile.open(staging / meld_files.INNER_ARCHIVES[split], "w:gz") as tar:
            clip_dir = meld_files.CLIP_DIRS[split]
            _add_tree(tar, root / clip_dir, clip_dir)
    archive = out_dir / "downloads" / meld_files.ARCHIVE_NAME
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for split in meld_files.SPLITS:
            tar.add(root / meld_files.CSV_NAMES[split], f"MELD.Raw/{meld_files.CSV_NAMES[split]}")
            inner = meld_files.INNER_ARCHIVES[split]
            tar.add(staging / inner, f"MELD.Raw/{inner}")
    return archive


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    return meld_files.prepare_sample(
        tmp_path_factory.mktemp("small") / "root", num_dialogues=NUM_DIALOGUES
    )


def test_full_config_from_archive(small_root, tmp_path, capsys):
    """`full` from MELD.Raw.tar.gz: every clip fault is a flagged example and a summary line."""
    archive = _make_raw_archive(small_root, tmp_path)
    builder = meld_dataset_builder.Builder(config="full", data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(archive.parent))
    )
    summary = capsys.readouterr().out
    rows = _csv_rows(small_root)
    assert {s: builder.info.splits[s].num_examples for s in TFDS_SPLITS.values()} == {
        TFDS_SPLITS[s]: len(r) for s, r in rows.items()
    }
    # The inner archives were unpacked from our copy, then deleted.
    work = tmp_path / "data" / "downloads" / "meld_tf"
    assert (work / "clips_train" / "train_splits").is_dir()
    assert not list(work.rglob("train.tar.gz"))

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


def test_prepare_raw_unpacked_and_text_only(small_root, tmp_path):
    """An unpacked tree is used in place; `text` reads only the CSVs out of an archive."""
    found = meld_files.prepare_raw(small_root, tmp_path / "work")
    assert found.clip_dirs["test"] == small_root / "output_repeated_splits_test"
    assert not (tmp_path / "work").exists()  # nothing unpacked
    archive = _make_raw_archive(small_root, tmp_path)
    text_only = meld_files.prepare_raw(archive.parent, tmp_path / "work", with_media=False)
    assert sorted(text_only.csvs) == ["dev", "test", "train"]
    assert not list((tmp_path / "work").rglob("*.mp4"))
    assert not list((tmp_path / "work").rglob("*.tar.gz"))


def test_prepare_raw_names_what_is_missing(tmp_path):
    (tmp_path / "train_sent_emo.csv").write_text("x")
    with pytest.raises(FileNotFoundError, match="dev_sent_emo.csv.*MELD.Raw.tar.gz"):
        meld_files.prepare_raw(tmp_path, tmp_path / "work", with_media=False)


def test_index_clips_prefix_and_junk(tmp_path):
    for name in ("dia1_utt2.mp4", "final_videos_testdia3_utt0.mp4", "._dia4_utt0.mp4",
                 "notes.txt", "final_videos_testdia1_utt2.mp4"):
        (tmp_path / name).write_bytes(b"")
    index = meld_files.index_clips(tmp_path)
    assert {k: p.name for k, p in index.items()} == {
        (1, 2): "dia1_utt2.mp4", (3, 0): "final_videos_testdia3_utt0.mp4"
    }


@pytest.mark.parametrize(
    "member", ["../evil", "sub/../../evil", "link_out", "link_abs"]
)
def test_safe_extract_refuses_hostile_archive(tmp_path, member):
    archive = tmp_path / "hostile.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        good = tarfile.TarInfo("ok.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(member)
        if member.startswith("link"):
            info.type = tarfile.SYMTYPE
            info.linkname = "../../etc/passwd" if member == "link_out" else "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    target = tmp_path / "out" / "target"
    with pytest.raises(meld_files.UnsafeArchiveError, match=r"Refusing to extract .*hostile"):
        meld_files.safe_extract(archive, target)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "evil").exists()
    assert not target.exists() and not list((tmp_path / "out").iterdir())  # nothing left


def test_safe_extract_unreadable(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        meld_files.safe_extract(bad, tmp_path / "t")
