"""Wall time and clips per second of the ``full`` build from an archive in the real layout.

Generates the synthetic sample at ``--dialogues``, packs it as ``MELD.Raw.tar.gz`` laid out as
the real archive (train CSV inside ``train.tar.gz``), then times what a user runs:

    tfds build tfds_meld/meld --config full --manual_dir DIR

in a fresh data folder (unpacking included). The sample's clips are small (160 x 120, 10 fps,
1-4 s, 16-48 kHz, 1-6 channels), so by default the rate is not that of real MELD clips;
``--real-clips`` first re-encodes every healthy clip at real MELD's properties (1280 x 720,
24 fps h264 at 1.6 Mbit/s, 48 kHz 5.1 AAC, 3.6 s: `real_clips`), once, kept in the work
folder, and the rate is then the one to expect on real MELD.

``--stages N`` then decodes the first N healthy training clips one at a time, timing each
stage of `meld_tf.data.media.decode_clip` in wall and CPU time (FFmpeg's slice threads and
OpenCV's thread pool work inside one clip): where a clip's time goes.
``--results FILE`` rewrites the benchmark's section of FILE (``bench/RESULTS.md``).

    python bench/full_build.py --dialogues 40 --real-clips --stages 40 --results bench/RESULTS.md
"""

import argparse
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from meld_text import machine  # noqa: E402
from real_clips import make_real  # noqa: E402
from results_file import command_line, publish  # noqa: E402
from tqdm import tqdm  # noqa: E402

from meld_tf.data.face_crop import crop_faces  # noqa: E402
from meld_tf.data.media import MediaConfig, decode_clip  # noqa: E402
from meld_tf.data.sample_archive import write_raw_archive  # noqa: E402
from meld_tf.data.stream_decoding import open_clip, rgb_frames, square_frames  # noqa: E402
from tfds_meld.meld import meld_files, meld_layout  # noqa: E402

START, END = "<!-- full-build:start -->", "<!-- full-build:end -->"
STAGES = {
    "demux + audio decoded to 16 kHz mono": "audio",
    "demux + video packets decoded up to the last sampled frame, 8 frames kept": "video",
    "8 frames squeezed to 112 x 112 (FFmpeg, area)": "square",
    "8 face crops (RGB frames, Haar cascade at 320 px, crops)": "faces",
    "the whole `decode_clip` (as the build calls it)": "clip",
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=40,
                        help="sample size (40: about 420 clips)")
    parser.add_argument("--work-dir", default="~/.cache/meld_tf/bench/full_build",
                        help="where the sample and its archive are kept between runs")
    parser.add_argument("--real-clips", action="store_true",
                        help="re-encode the clips at real MELD's size, rate and bit rate first")
    parser.add_argument("--stages", type=int, default=0,
                        help="then time the decoding stages on this many clips, one thread")
    parser.add_argument("--results", default="", help="Markdown file whose section is rewritten")
    return parser


def stage_times(clip_dir, count, config=None):
    """``{stage: (wall ms, CPU ms)}`` per clip of each decoding stage (`STAGES`), mean over
    the first ``count`` clips of ``clip_dir`` that have audio and video; and how many were
    timed."""
    config = config or MediaConfig()  # the build's own settings
    totals, timed = {name: [0.0, 0.0] for name in STAGES.values()}, 0

    def tick():
        return time.perf_counter(), time.process_time()

    for path in sorted(clip_dir.glob("*.mp4")):
        if timed == count:
            break
        ticks = [tick()]
        try:
            with open_clip(path) as clip:
                streams = clip.read(config.sample_rate, 0, config.max_clip_seconds)
            ticks.append(tick())
            audio_error = streams.audio_error
            with open_clip(path) as clip:
                streams = clip.read(None, config.num_frames, config.max_clip_seconds)
            ticks.append(tick())
            if audio_error or streams.video_error:
                continue
        except Exception:  # a faulty clip of the sample: not a clip to time
            continue
        square_frames(streams.frames, config.frame_size)
        ticks.append(tick())
        crop_faces(rgb_frames(streams.frames), config.frame_size)
        ticks.append(tick())
        decode_clip(path, config)
        ticks.append(tick())
        steps = [[b[i] - a[i] for i in (0, 1)] for a, b in zip(ticks, ticks[1:])]
        for name, seconds in zip(STAGES.values(), steps):
            totals[name] = [total + 1000 * s for total, s in zip(totals[name], seconds)]
        timed += 1
    return {name: tuple(t / max(timed, 1) for t in total) for name, total in totals.items()}, timed


def markdown(build, stages, timed, command):
    """The RESULTS.md section, markers included."""
    lines = [START, "## The `full` build: clips per second", "",
             f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')} UTC). {machine()}; load "
             f"average at the end {os.getloadavg()[0]:.2f}.", "", build]
    if stages:
        cores = os.cpu_count() or 1
        lines += ["", f"Where a clip's time goes: {timed} clips decoded one at a time (FFmpeg's "
                  "slice threads and OpenCV's threads work within a clip), ms per clip (mean):",
                  "", "| stage | wall, ms | CPU, ms |", "|---|---|---|"]
        lines += [f"| {label} | {stages[name][0]:.1f} | {stages[name][1]:.1f} |"
                  for label, name in STAGES.items()]  # fmt: skip
        cpu_ms = stages["clip"][1]
        lines += ["", f"At {cpu_ms:.0f} ms of CPU per clip, {cores} cores busy with nothing but "
                  f"decoding would give at most {cores * 1000 / cpu_ms:.1f} clips/s."]
    lines.append(END)
    return "\n".join(lines)


def with_real_clips(root, target):
    """A copy of the sample tree ``root`` at ``target`` whose healthy clips are re-encoded at
    real MELD's properties (`real_clips.make_real`); made once (resumable), then reused."""
    done = target / ".complete"
    if done.exists():
        return target
    import numpy as np

    rng = np.random.default_rng(0)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for path in tqdm(files, desc="Re-encoding at real MELD properties", unit=" files"):
        out = target / path.relative_to(root)
        if out.exists():
            continue  # made by an interrupted run (each file is renamed into place)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        if path.suffix != ".mp4" or not make_real(path, partial, rng):
            shutil.copyfile(path, partial)
        partial.rename(out)
    done.touch()
    return target


def _children_cpu():
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None):
    args = build_parser().parse_args(argv)
    work = pathlib.Path(args.work_dir).expanduser() / f"d{args.dialogues}"
    root = meld_files.prepare_sample(work / "root", args.dialogues)
    if args.real_clips:
        root = with_real_clips(root, work / "root_real")
    downloads = work / ("downloads_real" if args.real_clips else "downloads")
    archive = downloads / meld_layout.ARCHIVE_NAME
    if not archive.exists():
        write_raw_archive(root, archive)
    num_clips = sum(len(meld_layout.index_clips(root / d)) for d in meld_layout.CLIP_DIRS.values())
    num_rows = sum(len((root / c).read_text(encoding="utf-8").splitlines()) - 1
                   for c in meld_layout.CSV_NAMES.values())
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="meld_full_build_"))
    command = ["tfds", "build", str(REPO / "tfds_meld" / "meld"), "--config", "full",
               "--manual_dir", str(archive.parent), "--data_dir", str(data_dir)]
    tfds_cli = pathlib.Path(sys.executable).parent / "tfds"
    start, cpu_start = time.perf_counter(), _children_cpu()
    done = subprocess.run([str(tfds_cli), *command[1:]], capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    shutil.rmtree(data_dir, ignore_errors=True)
    if done.returncode:
        sys.exit(f"tfds build failed:\n{done.stderr[-3000:]}")
    size_mb = archive.stat().st_size / 2**20
    clips = "real MELD clip properties" if args.real_clips else "the sample's small clips"
    build = (f"Full build of a {size_mb:.0f} MB archive in the real layout ({args.dialogues} "
             f"dialogues, {num_rows} CSV rows, {num_clips} clips, {clips}): {seconds:.1f} s "
             f"wall, **{num_clips / seconds:.1f} clips/s** on {os.cpu_count()} cores "
             f"(unpacking and TF start-up included); {cpu:.0f} s of CPU: {cpu / seconds:.2f} "
             "cores busy on average.")
    print(build, flush=True)
    stages, timed = stage_times(root / "train_splits", args.stages) if args.stages else ({}, 0)
    text = markdown(build, stages, timed, command_line("full_build.py", argv))
    publish(text, args.results, START, END)


if __name__ == "__main__":
    main()
