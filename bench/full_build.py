"""Wall time and clips per second of the ``full`` build from an archive in the real layout.

Generates the synthetic sample at ``--dialogues``, packs it as ``MELD.Raw.tar.gz`` laid out as
the real archive (train CSV inside ``train.tar.gz``), then times what a user runs:

    tfds build tfds_meld/meld --config full --manual_dir DIR

in a fresh data folder (unpacking included). The sample's clips are small (160 x 120, 10 fps,
1-4 s, 16-48 kHz, 1-6 channels), so the rate is not that of real MELD clips (1280 x 720,
24 fps, 48 kHz 6 channels): compare it only with runs of this script.

    python bench/full_build.py --dialogues 120
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from meld_text import machine  # noqa: E402

from meld_tf.data.sample_archive import write_raw_archive  # noqa: E402
from tfds_meld.meld import meld_files, meld_layout  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=40,
                        help="sample size (40: about 420 clips)")
    parser.add_argument("--work-dir", default="~/.cache/meld_tf/bench/full_build",
                        help="where the sample and its archive are kept between runs")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    work = pathlib.Path(args.work_dir).expanduser() / f"d{args.dialogues}"
    root = meld_files.prepare_sample(work / "root", args.dialogues)
    archive = work / "downloads" / meld_layout.ARCHIVE_NAME
    if not archive.exists():
        write_raw_archive(root, archive)
    num_clips = sum(len(meld_layout.index_clips(root / d)) for d in meld_layout.CLIP_DIRS.values())
    num_rows = sum(len((root / c).read_text(encoding="utf-8").splitlines()) - 1
                   for c in meld_layout.CSV_NAMES.values())
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="meld_full_build_"))
    command = ["tfds", "build", str(REPO / "tfds_meld" / "meld"), "--config", "full",
               "--manual_dir", str(archive.parent), "--data_dir", str(data_dir)]
    tfds_cli = pathlib.Path(sys.executable).parent / "tfds"
    start = time.perf_counter()
    done = subprocess.run([str(tfds_cli), *command[1:]], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(data_dir, ignore_errors=True)
    if done.returncode:
        sys.exit(f"tfds build failed:\n{done.stderr[-3000:]}")
    size_mb = archive.stat().st_size / 2**20
    print(f"full build of a {size_mb:.0f} MB archive in the real layout ({args.dialogues} "
          f"dialogues, {num_rows} CSV rows, {num_clips} clips): {seconds:.1f} s wall, "
          f"{num_clips / seconds:.1f} clips/s (unpacking and TF start-up included)")
    print(f"command: python bench/full_build.py --dialogues {args.dialogues}")
    print(f"machine: {machine()}; date: {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
