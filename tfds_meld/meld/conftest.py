"""Fixtures of the builder tests: a small sample tree and MELD.Raw.tar.gz made from it."""

import pytest

from meld_tf.data.sample import SampleConfig
from meld_tf.data.sample_archive import REAL_LAYOUT, write_raw_archive
from tfds_meld.meld import meld_files, meld_layout

SMALL = SampleConfig().min_dialogues  # the smallest sample that holds every fault


@pytest.fixture(scope="session")
def small_root(tmp_path_factory):
    """A synthetic MELD tree of `SMALL` dialogues (CSVs and clip folders at its top)."""
    return meld_files.prepare_sample(tmp_path_factory.mktemp("small") / "root", SMALL)


@pytest.fixture(scope="session")
def raw_archive(small_root, tmp_path_factory):
    """``downloads/MELD.Raw.tar.gz`` laid out as the real archive (the default for ``full``)."""
    folder = tmp_path_factory.mktemp("real_archive") / "downloads"
    return write_raw_archive(small_root, folder / meld_layout.ARCHIVE_NAME, REAL_LAYOUT)
