"""meld_unpack: hostile and unreadable archives are refused, and leave nothing behind."""

import io
import tarfile

import pytest

from tfds_meld.meld import meld_unpack


def _hostile_member(tar, member):
    if member.startswith("link"):
        info = tarfile.TarInfo(member)
        info.type = tarfile.LNKTYPE if member == "link_hard" else tarfile.SYMTYPE
        info.linkname = {"link_out": "../../etc/passwd", "link_abs": "/etc/passwd"}.get(
            member, "ok.txt")
        tar.addfile(info)
    elif member == "device":
        info = tarfile.TarInfo(member)
        info.type = tarfile.CHRTYPE
        tar.addfile(info)
    else:
        info = tarfile.TarInfo(member)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))


def _write_hostile(path, member):
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("ok.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        _hostile_member(tar, member)


HOSTILE = ["../evil", "sub/../../evil", "/tmp/evil_abs", "link_out", "link_abs", "link_in",
           "link_hard", "device"]


@pytest.mark.parametrize("member", HOSTILE)
def test_safe_extract_refuses_hostile_archive(tmp_path, member):
    archive = tmp_path / "hostile.tar.gz"
    _write_hostile(archive, member)
    target = tmp_path / "out" / "target"
    with pytest.raises(meld_unpack.UnsafeArchiveError, match=r"Refusing to extract .*hostile"):
        meld_unpack.safe_extract(archive, target)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "evil").exists()
    assert not target.exists() and not list((tmp_path / "out").iterdir())  # nothing left


def test_safe_extract_unreadable(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        meld_unpack.safe_extract(bad, tmp_path / "t")
