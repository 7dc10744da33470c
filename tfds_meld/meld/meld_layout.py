"""MELD's file layout, and finding its parts in a folder of any shape.

The real archive unpacks to ``MELD.Raw/`` holding ``dev_sent_emo.csv``, ``test_sent_emo.csv``
and three inner archives. ``train_sent_emo.csv`` lives only inside ``train.tar.gz``, which
unpacks to ``train/train_sent_emo.csv`` and ``train/train_splits/``; ``dev.tar.gz`` and
``test.tar.gz`` unpack to ``dev_splits_complete/`` and ``output_repeated_splits_test/``, with
or without a split folder above them. Copies re-packed on macOS add ``__MACOSX/`` and ``._*``
files. :func:`find_files` finds the CSVs and clip folders at any depth, :func:`index_clips`
the clips of a folder, :func:`find_archives` the archives that may hold what is missing.
"""

import dataclasses
import os
import pathlib
import re

SPLITS = ("train", "dev", "test")  # MELD's own names; TFDS calls dev "validation"
CSV_NAMES = {split: f"{split}_sent_emo.csv" for split in SPLITS}
CLIP_DIRS = {"train": "train_splits", "dev": "dev_splits_complete",
             "test": "output_repeated_splits_test"}
INNER_ARCHIVES = {split: f"{split}.tar.gz" for split in SPLITS}
ARCHIVE_NAME = "MELD.Raw.tar.gz"
ARCHIVE_URL = "https://web.eecs.umich.edu/~mihalcea/downloads/MELD.Raw.tar.gz"
CSV_URL = "https://raw.githubusercontent.com/declare-lab/MELD/master/data/MELD/{name}"
# dia12_utt3.mp4, also with the "final_videos_test" prefix of some test clips.
_CLIP_NAME = re.compile(r"(?:final_videos_test)?dia(\d+)_utt(\d+)\.mp4")
_MACOS_DIR = "__MACOSX"


def is_junk(path):
    """macOS re-packing debris: anything under ``__MACOSX/``, ``._*`` files, ``.DS_Store``."""
    parts = pathlib.PurePath(path).parts
    return _MACOS_DIR in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store"


@dataclasses.dataclass
class MeldFiles:
    """Where the parts of MELD are: ``csvs`` and ``clip_dirs`` map MELD split -> path."""

    csvs: dict
    clip_dirs: dict

    def missing(self, with_media):
        """Names of the parts that were not found."""
        names = [CSV_NAMES[s] for s in SPLITS if s not in self.csvs]
        if with_media:
            names += [CLIP_DIRS[s] + "/" for s in SPLITS if s not in self.clip_dirs]
        return names

    def add(self, other):
        """Take from ``other`` the parts this one lacks."""
        self.csvs = {**other.csvs, **self.csvs}
        self.clip_dirs = {**other.clip_dirs, **self.clip_dirs}


def _scan(root, files=(), folders=()):
    """``{name: shallowest path}`` of the files named in ``files`` and the folders named in
    ``folders`` under ``root``.

    One walk; macOS junk is skipped and clip folders are not entered (they only hold clips).
    """
    found = {}
    for parent, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != _MACOS_DIR]
        matches = [n for n in names if n in files] + [d for d in dirs if d in folders]
        for name in matches:
            path = pathlib.Path(parent) / name
            if name not in found or (len(path.parts), str(path)) < (
                len(found[name].parts), str(found[name])
            ):
                found[name] = path
        dirs[:] = [d for d in dirs if d not in CLIP_DIRS.values()]
    return found


def find_files(root):
    """Search ``root`` at any depth for the three CSVs and the three clip folders."""
    found = _scan(root, files=CSV_NAMES.values(), folders=CLIP_DIRS.values())
    return MeldFiles(
        csvs={split: found[name] for split, name in CSV_NAMES.items() if name in found},
        clip_dirs={split: found[name] for split, name in CLIP_DIRS.items() if name in found},
    )


def index_clips(clip_dir):
    """``{(dialogue_id, utterance_id): path}`` of the mp4 clips in a folder (empty if None).

    Plain names win over ``final_videos_test``-prefixed ones; macOS ``._`` files are ignored.
    """
    index = {}
    if clip_dir is None:
        return index
    paths = pathlib.Path(clip_dir).iterdir()
    for path in sorted(paths, key=lambda p: (p.name.startswith("final_videos_test"), p.name)):
        match = _CLIP_NAME.fullmatch(path.name)
        if match and path.is_file():
            index.setdefault((int(match.group(1)), int(match.group(2))), path)
    return index


def find_archives(source, files, with_media):
    """Inner archives lying unpacked beside the parts found (for the parts still missing),
    then the outer ``MELD.Raw.tar.gz`` (or ``source`` itself when it is a file)."""
    if source.is_file():
        return [source]
    found = _scan(source, files={ARCHIVE_NAME, *INNER_ARCHIVES.values()})
    missing = set(files.missing(with_media))
    inner = [
        found[INNER_ARCHIVES[split]] for split in SPLITS
        if INNER_ARCHIVES[split] in found
        and {CSV_NAMES[split], CLIP_DIRS[split] + "/"} & missing
    ]
    return inner + ([found[ARCHIVE_NAME]] if ARCHIVE_NAME in found else [])
