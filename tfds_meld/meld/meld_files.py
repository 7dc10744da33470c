"""Making MELD's files ready to read: the real archive's parts found where they lie, or
unpacked once (:func:`prepare_raw`), or the synthetic sample generated once
(:func:`prepare_sample`).

Users may give the archive, its unpacked folder, or anything in between: :func:`prepare_raw`
finds each part wherever it lies (``meld_layout``) and unpacks only what is missing
(``meld_unpack``), reusing a finished extraction on the next build.
"""

import json
import pathlib
import shutil

from meld_tf.data.sample import SampleConfig, generate_sample, sample_fingerprint

from .meld_layout import (
    ARCHIVE_NAME,
    ARCHIVE_URL,
    CSV_NAMES,
    SPLITS,
    MeldFiles,
    find_archives,
    find_files,
)
from .meld_unpack import Wanted, safe_extract

_DONE = ".meld_tf_complete"  # written last into a finished extraction or sample tree


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
    for archive in find_archives(source, files, with_media):
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
