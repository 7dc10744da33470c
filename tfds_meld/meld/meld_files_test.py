"""prepare_raw: MELD's parts from archives and folders of every shape, unpacked once and safely."""

import io
import pathlib
import tarfile

import pytest

from meld_tf.data.sample_archive import ArchiveLayout, write_raw_archive
from tfds_meld.meld import meld_files, meld_layout, meld_unpack

SPLITS = meld_layout.SPLITS
LAYOUTS = {
    "real": ArchiveLayout(),
    "no_split_folders": ArchiveLayout(split_folders=False),
    "csvs_at_top": ArchiveLayout(train_csv_inside=False),
    "macos_junk": ArchiveLayout(macos_junk=True),
    "csvs_at_top_macos_junk": ArchiveLayout(train_csv_inside=False, split_folders=False,
                                            macos_junk=True),
}


def _assert_same_parts(found, root, with_media=True):
    """Every CSV has the bytes of the sample's, every clip folder its clips (and no junk)."""
    for split in SPLITS:
        assert found.csvs[split].read_bytes() == (root / meld_layout.CSV_NAMES[split]).read_bytes()
        if with_media:
            clips = sorted(p.name for p in found.clip_dirs[split].iterdir())
            assert clips == sorted(p.name for p in (root / meld_layout.CLIP_DIRS[split]).iterdir())
        else:
            assert not found.clip_dirs


def _files_under(folder):
    return [p for p in pathlib.Path(folder).rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_full_and_text_from_archive_in_every_layout(name, small_root, tmp_path):
    archive = write_raw_archive(small_root, tmp_path / "dl" / meld_layout.ARCHIVE_NAME,
                                LAYOUTS[name])
    work = tmp_path / "work"
    _assert_same_parts(meld_files.prepare_raw(archive.parent, work), small_root)
    # No inner archive written, no macOS junk extracted.
    assert not [p for p in _files_under(work) if p.name.endswith(".tar.gz")]
    assert not [p for p in _files_under(work) if meld_layout.is_junk(p)]
    text = meld_files.prepare_raw(archive, work / "text", with_media=False)  # the file itself
    _assert_same_parts(text, small_root, with_media=False)
    assert sorted(p.name for p in _files_under(work / "text") if p.name[0] != ".") == sorted(
        meld_layout.CSV_NAMES.values()
    )


def test_text_opens_no_inner_archive_when_csvs_are_outside(small_root, tmp_path):
    """CSVs at the top: `text` never opens an inner archive (here unreadable ones)."""
    archive = tmp_path / "dl" / meld_layout.ARCHIVE_NAME
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for split in SPLITS:
            inner = tarfile.TarInfo(f"MELD.Raw/{meld_layout.INNER_ARCHIVES[split]}")
            inner.size = 9
            tar.addfile(inner, io.BytesIO(b"not a tar"))
            csv = meld_layout.CSV_NAMES[split]
            tar.add(small_root / csv, f"MELD.Raw/{csv}")
    text = meld_files.prepare_raw(archive.parent, tmp_path / "work", with_media=False)
    _assert_same_parts(text, small_root, with_media=False)
    with pytest.raises(ValueError, match="not a readable tar archive"):  # `full` must open them
        meld_files.prepare_raw(archive.parent, tmp_path / "work")


def test_half_unpacked_folder(small_root, tmp_path):
    """MELD.Raw/ unpacked by hand, dev.tar.gz too but not the others: only train.tar.gz and
    test.tar.gz are opened, into the work folder (the user's folder is not written)."""
    archive = write_raw_archive(small_root, tmp_path / "dl" / meld_layout.ARCHIVE_NAME)
    source = tmp_path / "source"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    raw = source / "MELD.Raw"
    with tarfile.open(raw / "dev.tar.gz") as tar:
        tar.extractall(raw, filter="data")
    before = sorted(_files_under(source))
    found = meld_files.prepare_raw(raw, tmp_path / "work")
    _assert_same_parts(found, small_root)
    assert found.clip_dirs["dev"] == raw / "dev" / "dev_splits_complete"
    assert found.csvs["dev"] == raw / "dev_sent_emo.csv"
    assert sorted(p.name for p in (tmp_path / "work" / "unpacked").iterdir()) == ["test", "train"]
    assert sorted(_files_under(source)) == before


def test_unpacked_tree_is_used_in_place(small_root, tmp_path):
    found = meld_files.prepare_raw(small_root, tmp_path / "work")
    assert found.clip_dirs["test"] == small_root / "output_repeated_splits_test"
    assert not (tmp_path / "work").exists()  # nothing unpacked


def test_extraction_is_reused_and_an_interrupted_one_redone(raw_archive, tmp_path, monkeypatch,
                                                           capsys):
    work = tmp_path / "work"
    calls = []
    real_extract = tarfile.TarFile.extract

    def interrupted(self, member, *args, **kwargs):
        calls.append(member)
        if len(calls) == 20:
            raise KeyboardInterrupt  # the user presses Ctrl-C mid-way
        return real_extract(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        meld_files.prepare_raw(raw_archive.parent, work)
    assert not list((work / "unpacked").iterdir())  # nothing half-done is left

    first = meld_files.prepare_raw(raw_archive.parent, work)  # redone, in full
    extracted = len(calls)
    assert extracted > 40
    second = meld_files.prepare_raw(raw_archive.parent, work)  # reused: nothing extracted
    assert second == first and len(calls) == extracted
    assert "Reusing the unpacked MELD.Raw.tar.gz" in capsys.readouterr().out

    # A folder without its completion marker (killed before it was written) is redone.
    marker = next((work / "unpacked").glob("*/" + meld_files._DONE))
    marker.unlink()
    meld_files.prepare_raw(raw_archive.parent, work)
    assert len(calls) > extracted and marker.exists()


def test_prepare_raw_names_what_is_missing(tmp_path):
    (tmp_path / "train_sent_emo.csv").write_text("x")
    with pytest.raises(FileNotFoundError, match="dev_sent_emo.csv.*MELD.Raw.tar.gz"):
        meld_files.prepare_raw(tmp_path, tmp_path / "work", with_media=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        meld_files.prepare_raw(tmp_path / "nowhere", tmp_path / "work")


@pytest.mark.parametrize("kind", ["escape", "link", "device"])
def test_hostile_inner_archive_is_refused(tmp_path, kind):
    """A wanted member of an inner train.tar.gz is checked as strictly as the outer ones."""
    clip = "train/train_splits/dia9_utt0.mp4"
    inner = tmp_path / "train.tar.gz"
    with tarfile.open(inner, "w:gz") as tar:
        info = tarfile.TarInfo(clip if kind != "escape" else "train/train_splits/../../../evil")
        if kind == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif kind == "device":
            info.type = tarfile.CHRTYPE
        else:
            info.size = 4
        tar.addfile(info, io.BytesIO(b"evil") if kind == "escape" else None)
    archive = tmp_path / "dl" / meld_layout.ARCHIVE_NAME
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(inner, "MELD.Raw/train.tar.gz")
    with pytest.raises(meld_unpack.UnsafeArchiveError, match="train.tar.gz"):
        meld_files.prepare_raw(archive.parent, tmp_path / "work")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "work" / "evil").exists()
