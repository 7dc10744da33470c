"""Finding MELD's CSVs and clip folders, and unpacking ``MELD.Raw.tar.gz`` safely.

The real archive unpacks to ``MELD.Raw/`` holding ``dev_sent_emo.csv``, ``test_sent_emo.csv``
and three inner archives. ``train_sent_emo.csv`` lives only inside ``train.tar.gz``, which
unpacks to ``train/train_sent_emo.csv`` and ``train/train_splits/``; ``dev.tar.gz`` and
``test.tar.gz`` unpack to ``dev_splits_complete/`` and ``output_repeated_splits_test/``, with
or without a split folder above them. Copies re-packed on macOS add ``__MACOSX/`` and ``._*``
files. Users may give the archive, its unpacked folder, or anything in between:
:func:`prepare_raw` finds each part wherever it lies and unpacks only what is missing.
"""

import dataclasses
import io
import json
import os
import pathlib
import re
import shutil
import tarfile

from meld_tf.data.progress import progress_bar
from meld_tf.data.sample import SampleConfig, generate_sample, sample_fingerprint

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
_DONE = ".meld_tf_complete"  # written last into a finished extraction or sample tree
_MACOS_DIR = "__MACOSX"


class UnsafeArchiveError(ValueError):
    """An archive member is a link or a device, or would be written outside its folder."""


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


# --- Safe, selective, resumable extraction. --------------------------------------------------

EXTRACT, OPEN, SKIP = "extract", "open", "skip"


class Wanted:
    """Which archive members to take: the parts of MELD not found yet.

    Called with a member's path, it answers `EXTRACT` (a missing CSV, or a file of a missing
    clip folder), `OPEN` (an inner ``{split}.tar.gz`` that holds a missing part: its members
    are read from inside the outer stream, the inner archive itself is never written) or
    `SKIP`. Inner archives are opened for their clips at once, but for a CSV only in a
    second pass (`second_pass`), once the first found it nowhere outside them.
    """

    def __init__(self, csv_names, clip_splits):
        self.csv_names = set(csv_names)
        self.clip_splits = set(clip_splits)
        self.for_csvs = False  # open inner archives for their CSVs
        self.seen, self.opened = set(), set()  # splits whose inner archive was met / opened

    @property
    def done(self):
        return not self.csv_names and not self.clip_splits

    def key(self):
        """What this selection asks for, as text (an extraction is reused only for the same)."""
        return f"csvs={sorted(self.csv_names)} clips={sorted(self.clip_splits)}"

    def second_pass(self):
        """Switch to looking for the missing CSVs inside the inner archives met but not opened.

        Returns whether such a pass can find anything.
        """
        self.clip_splits, self.for_csvs = set(), True
        return any(CSV_NAMES[s] in self.csv_names for s in self.seen - self.opened)

    def __call__(self, path):
        path = pathlib.PurePosixPath(path)
        if is_junk(path):
            return SKIP
        if path.name in self.csv_names:
            self.csv_names.discard(path.name)
            return EXTRACT
        if any(CLIP_DIRS[split] in path.parts for split in self.clip_splits):
            return EXTRACT
        split = next((s for s, name in INNER_ARCHIVES.items() if name == path.name), None)
        if split is None or split in self.opened:
            return SKIP
        self.seen.add(split)
        if split in self.clip_splits or (self.for_csvs and CSV_NAMES[split] in self.csv_names):
            self.opened.add(split)
            return OPEN
        return SKIP


class _CountingReader(io.RawIOBase):
    """A file read forward, advancing a progress bar by the bytes read."""

    def __init__(self, file, bar):
        self._file, self._bar = file, bar

    def readable(self):
        return True

    def readinto(self, buffer):
        count = self._file.readinto(buffer)
        self._bar.update(count)
        return count


def _check_member(member, archive):
    """Refuse links, devices, and absolute or ``..`` paths (tarfile's filter checks again)."""
    path = pathlib.PurePosixPath(member.name)
    kind = None
    if member.issym() or member.islnk():
        kind = "a link"
    elif not (member.isfile() or member.isdir()):
        kind = "a device or special file"
    elif path.is_absolute() or ".." in path.parts:
        kind = "a path outside the archive's folder"
    if kind:
        raise UnsafeArchiveError(
            f"Refusing to extract {archive}: member {member.name!r} is {kind}. The archive "
            f"is damaged or not the real MELD archive; download it again from {ARCHIVE_URL}."
        )


def _extract_stream(tar, target, select, archive):
    """Extract the members of an open stream that ``select`` wants into ``target``."""
    for member in tar:
        choice = EXTRACT if select is None else select(member.name)
        if choice == SKIP:
            continue
        _check_member(member, archive)
        try:
            if choice == OPEN:  # unpacked beside itself, as `tar xf` run in its folder would
                tarfile.data_filter(member, str(target))  # the same path checks
                inner_dir = target / pathlib.PurePosixPath(member.name).parent
                inner_dir.mkdir(parents=True, exist_ok=True)
                with tarfile.open(fileobj=tar.extractfile(member), mode="r|*") as inner:
                    _extract_stream(inner, inner_dir, select, f"{archive}:{member.name}")
            else:
                tar.extract(member, target, filter="data")
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(
                f"Refusing to extract {archive}: member {member.name!r} is unsafe ({error}). "
                f"The archive is damaged or not the real MELD archive; download it again "
                f"from {ARCHIVE_URL}."
            ) from None
        if select is not None and select.done:
            return


def safe_extract(archive, target, select=None):
    """Extract a tar archive (any compression) into ``target``, streaming, with a progress bar.

    No member may write outside ``target`` (no ``../`` or absolute paths) and none may be a
    link or a device. Extraction goes to a temporary sibling folder renamed when complete,
    so an interrupted or refused extraction leaves nothing behind.

    Args:
        archive: the ``.tar`` / ``.tar.gz`` file.
        target: folder to create (must not exist yet).
        select: optional `Wanted`: extract only what it asks for, opening inner archives
            in the stream; reading stops as soon as it wants nothing more. A second pass
            opens inner archives for CSVs not found outside them. None extracts everything.

    Raises:
        UnsafeArchiveError: naming the archive and the offending member.
        ValueError: the file is not a readable tar archive.
    """
    archive, target = pathlib.Path(archive), pathlib.Path(target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    passes = [False] if select is None else [False, True]
    try:
        for second in passes:
            if second and (select.done or not select.second_pass()):
                break
            label = (f"Reading {archive.name} for {', '.join(sorted(select.csv_names))}"
                     if second else f"Unpacking {archive.name}")
            with open(archive, "rb") as file, progress_bar(
                total=archive.stat().st_size, desc=label, unit="B",
                unit_scale=True, unit_divisor=1024,
            ) as bar:
                reader = io.BufferedReader(_CountingReader(file, bar), 1 << 20)
                with tarfile.open(fileobj=reader, mode="r|*") as tar:
                    _extract_stream(tar, partial, select, archive)
    except UnsafeArchiveError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ValueError(f"{archive} is not a readable tar archive ({error}).") from error
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _extract_once(archive, target, select):
    """`safe_extract` unless ``target`` holds a finished extraction of the same request.

    The marker written last records the archive (path, size, time) and the selection, so a
    second build reuses the extraction and an interrupted, or different, one is redone.
    """
    stat = archive.stat()
    stamp = json.dumps({"archive": str(archive.resolve()), "size": stat.st_size,
                        "mtime_ns": stat.st_mtime_ns, "wanted": select.key()})
    marker = target / _DONE
    if marker.is_file() and marker.read_text() == stamp:
        print(f"Reusing the unpacked {archive.name} in {target}", flush=True)
        return target
    safe_extract(archive, target, select)
    marker.write_text(stamp)
    return target


def _archives_to_open(source, files, with_media):
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


def prepare_raw(source, work_dir, with_media=True):
    """Locate (unpacking only what is missing) MELD's CSVs and, ``with_media``, its clips.

    Args:
        source: ``MELD.Raw.tar.gz``, its unpacked folder (half-unpacked is fine: inner
            archives beside the unpacked parts), or a folder holding either.
        work_dir: where to unpack (reused across runs: finished extractions are kept).
        with_media: also find the clip folders (else only the CSVs are needed, and only
            they are read out of an archive).

    Returns:
        `MeldFiles`.

    Raises:
        FileNotFoundError: naming what is missing and how to get it.
    """
    source, work_dir = pathlib.Path(source).expanduser(), pathlib.Path(work_dir)
    if not source.exists():
        raise FileNotFoundError(
            f"{source} does not exist. Give the folder holding {ARCHIVE_NAME} (from "
            f"{ARCHIVE_URL}) or its unpacked MELD.Raw folder."
        )
    files = find_files(source) if source.is_dir() else MeldFiles({}, {})
    for archive in _archives_to_open(source, files, with_media):
        if not files.missing(with_media):
            break
        select = Wanted(
            [CSV_NAMES[s] for s in SPLITS if s not in files.csvs],
            [s for s in SPLITS if with_media and s not in files.clip_dirs],
        )
        name = archive.name.removesuffix(".gz").removesuffix(".tar")
        target = work_dir / "unpacked" / (name if with_media else f"{name}.csv")
        files.add(find_files(_extract_once(archive, target, select)))
    missing = files.missing(with_media)
    if missing:
        raise FileNotFoundError(
            f"MELD files not found in {source}: {', '.join(missing)}. Put {ARCHIVE_NAME} "
            f"(from {ARCHIVE_URL}) or its unpacked folder there."
        )
    return files


def prepare_sample(folder, num_dialogues=40, seed=0, config=None):
    """Generate the synthetic MELD tree into ``folder`` once.

    The tree is reused only if it was finished by the same generator (code and
    `SampleConfig`), size and seed: its marker holds their `sample_fingerprint`.
    """
    folder = pathlib.Path(folder)
    config = config or SampleConfig()
    fingerprint = sample_fingerprint(num_dialogues, seed, config)
    marker = folder / _DONE
    if not (marker.is_file() and marker.read_text().strip() == fingerprint):
        shutil.rmtree(folder, ignore_errors=True)
        generate_sample(folder, seed=seed, num_dialogues=num_dialogues, config=config)
        marker.write_text(fingerprint)
    return folder
