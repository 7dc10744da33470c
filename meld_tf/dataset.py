"""Preparing and loading the MELD TFDS dataset from Python (what the CLIs call).

It sits above the builder (`tfds_meld`, which is built from `meld_tf.data`), so that
`meld_tf.data` never imports `tfds_meld`.

``load_meld("sample")`` builds the synthetic sample on first use (TFDS shows progress
bars) and returns its three splits; ``tfds build tfds_meld/meld --config ...`` writes to the
same default folder, so a dataset built on the command line is found here.
"""

import os
import pathlib
import re
import sys

import tensorflow_datasets as tfds

from meld_tf.labels import SPLITS

CONFIGS = ("text", "full", "sample")
SAMPLE_NAME = re.compile(r"sample_(\d+)d_s(\d+)")  # the name `sample_config` gives


def default_data_dir():
    """TFDS's default data folder: ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
    return str(pathlib.Path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
               .expanduser())


def meld_builder(config_name, data_dir=None):
    """The TFDS builder of ``meld/<config_name>`` in ``data_dir`` (default: TFDS's).

    ``config_name`` is one of `CONFIGS`, or ``sample_<N>d_s<SEED>``: the sample generated
    with N dialogues and that seed (``sample_120d_s0`` has 255 test utterances).
    """
    sample = SAMPLE_NAME.fullmatch(config_name)
    if config_name not in CONFIGS and not sample:
        raise ValueError(
            f"Unknown MELD config {config_name!r}; choose one of {CONFIGS} or "
            "sample_<N>d_s<SEED>."
        )
    from tfds_meld.meld.meld_dataset_builder import sample_config  # registers "meld"

    config = sample_config(int(sample[1]), int(sample[2])) if sample else config_name
    return tfds.builder("meld", config=config, data_dir=data_dir or default_data_dir())


def is_prepared(config_name, data_dir=None):
    """Whether ``meld/<config_name>`` is already built in ``data_dir``."""
    return meld_builder(config_name, data_dir).is_prepared()


def prepare_meld(config_name, data_dir=None, manual_dir=None):
    """Build ``meld/<config_name>`` unless it is built already; returns the builder.

    ``manual_dir``: the folder with the MELD CSVs (``text``) or ``MELD.Raw.tar.gz``
    (``full``); the ``sample`` config needs none.
    """
    builder = meld_builder(config_name, data_dir)
    if not builder.is_prepared():
        if not sys.stderr.isatty():  # TFDS's bars redraw every example: megabytes in a log
            tfds.disable_progress_bar()  # (ours, sparse off a terminal, still report)
        config = tfds.download.DownloadConfig(
            manual_dir=None if manual_dir is None else str(pathlib.Path(manual_dir).expanduser())
        )
        builder.download_and_prepare(download_config=config)
    return builder


def load_meld(config_name="sample", data_dir=None, manual_dir=None, prepare=True, **kwargs):
    """The train, validation and test splits of ``meld/<config_name>`` as ``tf.data``.

    Args:
        config_name: ``"text"``, ``"full"`` or ``"sample"``.
        data_dir: TFDS data folder (default: `default_data_dir`).
        manual_dir: passed to the build (see `prepare_meld`) when it is not built yet.
        prepare: build the config on first use; if False a missing build is an error.
        **kwargs: passed to ``builder.as_dataset`` (e.g. ``shuffle_files``).

    Returns:
        ``{"train": ds, "validation": ds, "test": ds}`` of feature dicts
        (see ARCHITECTURE.md).
    """
    if prepare:
        builder = prepare_meld(config_name, data_dir, manual_dir)
    else:
        builder = meld_builder(config_name, data_dir)
        if not builder.is_prepared():
            raise FileNotFoundError(
                f"meld/{config_name} is not built in {data_dir or default_data_dir()}. Build it "
                f"with `tfds build tfds_meld/meld --config {config_name}` (add --data_dir, and "
                "--manual_dir for text/full) or call load_meld(..., prepare=True)."
            )
    return {split: builder.as_dataset(split=split, **kwargs) for split in SPLITS}


def split_sizes(config_name, data_dir=None):
    """``{"train": n, "validation": n, "test": n}`` of a built config."""
    splits = meld_builder(config_name, data_dir).info.splits
    return {split: splits[split].num_examples for split in SPLITS}
