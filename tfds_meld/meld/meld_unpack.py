"""Unpacking MELD's tar archives safely, selectively and in one streaming read.

:func:`safe_extract` refuses links, devices and paths that leave the target, and leaves
nothing behind when interrupted or refused. Given a :class:`Wanted`, it takes only the parts
of MELD not found yet, reading the inner ``{split}.tar.gz`` archives from inside the outer
stream (they are never written), and stops reading once nothing more is wanted.
"""

import io
import pathlib
import shutil
import tarfile

from meld_tf.data.progress import progress_bar

from .meld_layout import ARCHIVE_URL, CLIP_DIRS, CSV_NAMES, INNER_ARCHIVES, is_junk


class UnsafeArchiveError(ValueError):
    """An archive member is a link or a device, or would be written outside its folder."""


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
