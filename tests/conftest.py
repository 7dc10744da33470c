"""Shared pytest setup: quiet TensorFlow, the --run-large flag, and the shared sample."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

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
