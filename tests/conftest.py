"""Shared pytest setup: quiet TensorFlow, the --run-large flag, the shared sample, and clips
with each fault a decoder meets."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-large", action="store_true", default=False, help="also run tests marked large"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-large"):
        return
    skip_large = pytest.mark.skip(reason="large test: run with --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip_large)


# --- Shared MELD data: the synthetic sample, generated once per test session. ---------------
# With pytest-xdist every worker asks for the same folders: the first one builds them under a
# file lock in the folder shared by all workers, the others wait and reuse them.


def _shared_dir(tmp_path_factory, name, build):
    """``build(path)`` once per session (once for all xdist workers); returns ``path``."""
    import filelock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run only
    path = base / name
    with filelock.FileLock(str(path) + ".lock"):
        done = path.with_name(name + ".done")
        if not done.exists():
            build(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory):
    """A synthetic MELD tree (CSVs and clip folders, `generate_sample` defaults)."""
    from tfds_meld.meld.meld_files import prepare_sample

    return _shared_dir(tmp_path_factory, "meld_sample_root", prepare_sample)


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory, sample_root):
    """A TFDS data_dir in which ``meld/sample`` is built (from `sample_root`)."""

    def build(data_dir):
        from meld_tf.dataset import prepare_meld

        # The builder generates its sample under downloads/meld_tf/sample: reuse ours.
        link = data_dir / "downloads" / "meld_tf" / "sample"
        link.parent.mkdir(parents=True)
        link.symlink_to(sample_root, target_is_directory=True)
        prepare_meld("sample", data_dir=str(data_dir))

    return _shared_dir(tmp_path_factory, "meld_data_dir", build)


# --- Clips for the decoders: one good clip and one of each fault. ---------------------------


def _tone(seconds, rate, channels, hz=440.0):
    """A sine of ``hz`` at half scale: ``(samples,)`` mono or ``(samples, channels)``."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def _frames(count, height=48, width=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), np.uint8)


@pytest.fixture(scope="session")
def fault_clips(tmp_path_factory):
    """One good clip and one of each fault, written with the sample's write_clip:
    ``{name: path}`` for good, no_audio, no_video, truncated, empty, long, missing."""
    from meld_tf.data.sample import write_clip

    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}.mp4" for name in (
        "good", "no_audio", "no_video", "truncated", "empty", "long", "missing")}  # fmt: skip
    write_clip(paths["good"], _frames(24), _tone(2.0, 44100, 6), fps=12, sample_rate=44100)
    write_clip(paths["no_audio"], _frames(12), None, fps=12)
    write_clip(paths["no_video"], None, _tone(1.0, 48000, 2), sample_rate=48000)
    data = paths["good"].read_bytes()
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["empty"].write_bytes(b"")
    write_clip(paths["long"], _frames(14), _tone(7.0, 16000, 1), fps=2, sample_rate=16000)
    return paths
