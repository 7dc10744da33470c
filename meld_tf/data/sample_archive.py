"""``MELD.Raw.tar.gz`` made from a sample tree, in the layouts of the real archive's copies.

The real archive unpacks to ``MELD.Raw/`` with ``dev_sent_emo.csv``, ``test_sent_emo.csv``
and three inner archives; ``train_sent_emo.csv`` is only inside ``train.tar.gz``, beside
``train_splits/`` (see ``tfds_meld/meld/README.md``). `write_raw_archive` packs a tree of
`meld_tf.data.sample.generate_sample` that way, or in the other shapes found in the wild,
so that the ``full`` build can be tested and timed on the real layout.
"""

import dataclasses
import io
import pathlib
import tarfile
import tempfile

from meld_tf.data.sample import CLIP_DIRS, CSV_FILES

SPLITS = tuple(CSV_FILES)
_APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)


@dataclasses.dataclass(frozen=True)
class ArchiveLayout:
    """How a copy of ``MELD.Raw.tar.gz`` is laid out.

    Args:
        train_csv_inside: ``train_sent_emo.csv`` only inside ``train.tar.gz`` (the real
            archive); False puts the three CSVs at the top of ``MELD.Raw/`` instead.
        split_folders: the inner archives hold ``train/``, ``dev/``, ``test/`` above the
            clip folders (and the train CSV); False puts them at the inner archive's top.
        macos_junk: add the ``__MACOSX/`` folders and ``._*`` / ``.DS_Store`` files of a
            copy re-packed on macOS, beside the real files, in both archive levels.
    """

    train_csv_inside: bool = True
    split_folders: bool = True
    macos_junk: bool = False


REAL_LAYOUT = ArchiveLayout()


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_junk(tar, names):
    """macOS debris for each real member name: ``._name`` beside it, and under __MACOSX/."""
    for name in names:
        path = pathlib.PurePosixPath(name)
        _add_bytes(tar, str(path.parent / f"._{path.name}"), _APPLE_DOUBLE)
        _add_bytes(tar, str("__MACOSX" / path.parent / f"._{path.name}"), _APPLE_DOUBLE)
    _add_bytes(tar, str(pathlib.PurePosixPath(names[0]).parent / ".DS_Store"), bytes(32))


def _write_inner(root, split, path, layout, compresslevel):
    """``{split}.tar.gz``: the split's clip folder (and for train, maybe its CSV)."""
    top = f"{split}/" if layout.split_folders else ""
    clip_dir = pathlib.Path(root) / CLIP_DIRS[split]
    with tarfile.open(path, "w:gz", compresslevel=compresslevel) as tar:
        names = []
        if split == "train" and layout.train_csv_inside:
            names.append(f"{top}{CSV_FILES[split]}")
            tar.add(pathlib.Path(root) / CSV_FILES[split], names[-1])
        tar.add(clip_dir, f"{top}{CLIP_DIRS[split]}")
        if layout.macos_junk:
            clips = sorted(p.name for p in clip_dir.iterdir())[:3]
            _add_junk(tar, names + [f"{top}{CLIP_DIRS[split]}/{name}" for name in clips])


def write_raw_archive(root, path, layout=REAL_LAYOUT, compresslevel=1):
    """Pack the sample tree ``root`` as ``MELD.Raw.tar.gz`` at ``path`` in ``layout``.

    Args:
        root: a tree written by `generate_sample` (CSVs and clip folders at its top).
        path: the archive to write (its folder is created).
        layout: an `ArchiveLayout`; the real archive's by default.
        compresslevel: gzip level of both archive levels (mp4 hardly compresses).

    Returns:
        ``pathlib.Path`` of the archive.
    """
    root, path = pathlib.Path(root), pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as staging, tarfile.open(
        path, "w:gz", compresslevel=compresslevel
    ) as tar:
        names = []
        for split in SPLITS:
            if split != "train" or not layout.train_csv_inside:
                names.append(f"MELD.Raw/{CSV_FILES[split]}")
                tar.add(root / CSV_FILES[split], names[-1])
        for split in SPLITS:
            inner = pathlib.Path(staging) / f"{split}.tar.gz"
            _write_inner(root, split, inner, layout, compresslevel)
            names.append(f"MELD.Raw/{inner.name}")
            tar.add(inner, names[-1])
        if layout.macos_junk:
            _add_junk(tar, names)
    return path
