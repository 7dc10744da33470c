"""Finding MELD's CSVs and clip folders, and unpacking ``MELD.Raw.tar.gz`` safely.

The real archive holds ``MELD.Raw/{train,dev,test}_sent_emo.csv`` and three inner archives
``train.tar.gz``, ``dev.tar.gz``, ``test.tar.gz`` that unpack to ``train_splits/``,
``dev_splits_complete/`` and ``output_repeated_splits_test/``. Users may give the archive,
the unpacked folder, or anything in between; :func:`prepare_raw` finds what is there and
unpacks only what is missing.
"""

import dataclasses
import pathlib
import re
import shutil
import tarfile

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
_DONE = ".meld_tf_complete"


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the target folder (or is a device...)."""


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


def _shallowest(paths):
    paths = [p for p in paths if "__MACOSX" not in p.parts]
    return min(paths, key=lambda p: (len(p.parts), str(p))) if paths else None


def find_files(root):
    """Search ``root`` (recursively) for the three CSVs and the three clip folders."""
    root = pathlib.Path(root)
    found = MeldFiles({}, {})
    for split in SPLITS:
        csv = _shallowest([p for p in root.rglob(CSV_NAMES[split]) if p.is_file()])
        clips = _shallowest([p for p in root.rglob(CLIP_DIRS[split]) if p.is_dir()])
        if csv:
            found.csvs[split] = csv
        if clips:
            found.clip_dirs[split] = clips
    return found


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


def safe_extract(archive, target, only=None):
    """Extract a tar archive into ``target`` with tarfile's ``data`` filter.

    No member may write outside ``target`` (no ``../``, absolute paths, or links out);
    extraction goes to a temporary sibling folder that is renamed when complete, so an
    interrupted or refused extraction leaves nothing behind.

    Args:
        archive: the ``.tar`` / ``.tar.gz`` file.
        target: folder to create (must not exist yet).
        only: optional predicate on a member's base name: extract only the members it accepts.

    Raises:
        UnsafeArchiveError: naming the archive and the offending member.
    """
    archive, target = pathlib.Path(archive), pathlib.Path(target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if only is not None and not only(pathlib.PurePosixPath(member.name).name):
                    continue
                try:
                    tar.extract(member, partial, filter="data")
                except tarfile.FilterError as error:
                    raise UnsafeArchiveError(
                        f"Refusing to extract {archive}: member {member.name!r} is unsafe "
                        f"({error}). The archive is damaged or not the real MELD archive; "
                        f"download it again from {ARCHIVE_URL}."
                    ) from None
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ValueError(f"{archive} is not a readable tar archive ({error}).") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)
    return target


def _extract_once(archive, target, only=None):
    """`safe_extract` unless ``target`` already holds a completed extraction."""
    if (target / _DONE).exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    safe_extract(archive, target, only)
    (target / _DONE).touch()
    return target


def find_archive(root):
    """The ``MELD.Raw.tar.gz`` in or under ``root`` (or ``root`` itself), else None."""
    root = pathlib.Path(root)
    if root.is_file():
        return root
    return _shallowest([p for p in root.rglob(ARCHIVE_NAME) if p.is_file()])


def prepare_raw(source, work_dir, with_media=True):
    """Locate (unpacking as needed) MELD's CSVs and, ``with_media``, its clip folders.

    Args:
        source: the archive, its unpacked folder, or a folder holding either.
        work_dir: where to unpack (reused across runs: finished extractions are kept).
        with_media: also find the clip folders (else only the CSVs are needed, and only
            they are read out of an archive).

    Returns:
        `MeldFiles`.

    Raises:
        FileNotFoundError: naming what is missing and how to get it.
    """
    source, work_dir = pathlib.Path(source).expanduser(), pathlib.Path(work_dir)
    found = find_files(source) if source.is_dir() else MeldFiles({}, {})
    if found.missing(with_media):
        archive = find_archive(source)
        if archive is not None:
            only = None if with_media else (lambda name: name in CSV_NAMES.values())
            unpacked = _extract_once(
                archive, work_dir / ("MELD.Raw" if with_media else "MELD.Raw.csv"), only
            )
            more = find_files(unpacked)
            found.csvs = {**more.csvs, **found.csvs}
            found.clip_dirs = {**more.clip_dirs, **found.clip_dirs}
    if with_media:
        for split in SPLITS:
            if split in found.clip_dirs:
                continue
            roots = [source] if source.is_dir() else []
            roots += [work_dir / "MELD.Raw"] if (work_dir / "MELD.Raw").is_dir() else []
            inner = _shallowest(
                [p for r in roots for p in r.rglob(INNER_ARCHIVES[split]) if p.is_file()]
            )
            if inner is not None:
                unpacked = _extract_once(inner, work_dir / f"clips_{split}")
                if work_dir in inner.parents:
                    inner.unlink()  # our own copy, unpacked: free its gigabytes
                clips = find_files(unpacked).clip_dirs.get(split)
                if clips is not None:
                    found.clip_dirs[split] = clips
    missing = found.missing(with_media)
    if missing:
        raise FileNotFoundError(
            f"MELD files not found in {source}: {', '.join(missing)}. Put {ARCHIVE_NAME} "
            f"(from {ARCHIVE_URL}) or its unpacked folder there."
        )
    return found


def prepare_sample(folder, num_dialogues=40, seed=0):
    """Generate the synthetic MELD tree into ``folder`` once (reused when complete)."""
    folder = pathlib.Path(folder)
    if not (folder / _DONE).exists():
        from meld_tf.data.sample import generate_sample  # only the sample needs it

        shutil.rmtree(folder, ignore_errors=True)
        generate_sample(folder, seed=seed, num_dialogues=num_dialogues)
        (folder / _DONE).touch()
    return folder
