"""The data of a run: which prepared MELD a ``TrainConfig`` means, spelt out.

``auto`` depends on what is prepared in the data folder, and the TFDS builder's version on
the installed meld_tf; a run therefore records what it resolved (`resolve_data`), so that a
replay or a resume trains on the same data, or refuses. ``load_splits`` reads it.
"""

import os

from meld_tf import dataset as meld_data
from meld_tf.dataset import meld_builder


class RunError(ValueError):
    """A run that cannot start (bad data choice, folder already used)."""


def choose_dataset(config):
    """Returns ``(dataset name, reason)`` for ``config.dataset`` (``auto`` resolved)."""
    data_dir = config.data_dir or meld_data.default_data_dir()
    if config.dataset != "auto":
        return config.dataset, "chosen with --dataset"
    if meld_data.is_prepared("full", data_dir):
        return "full", f"prepared MELD (full) found in {data_dir}"
    if config.model.modalities == ("text",) and meld_data.is_prepared("text", data_dir):
        return "text", f"prepared MELD (text) found in {data_dir}"
    ready = "already prepared" if meld_data.is_prepared("sample", data_dir) else (
        "preparing it now, once: a few minutes")
    return "sample", (
        f"no prepared MELD in {data_dir}; using the built-in synthetic sample, {ready}"
    )


def describe_data(config):
    """``meld/sample 1.0.0 in /data``: the data of a resolved config."""
    return f"meld/{config.dataset} {config.dataset_version} in {config.data_dir}"


def resolve_data(config):
    """``(config, reason)``: ``config`` with its data spelt out, as a run records it.

    ``dataset`` (``auto`` resolved by `choose_dataset`), ``data_dir`` (absolute) and
    ``dataset_version`` (the version the TFDS builder reads and writes; for the generated
    sample also the generator's ``sample_version``, e.g. ``1.0.0+sample.3f2a9c1e04b7``).
    A replayed config keeps its data; raises RunError if its version is not the builder's.
    """
    dataset, reason = choose_dataset(config)
    data_dir = os.path.abspath(os.path.expanduser(config.data_dir or meld_data.default_data_dir()))
    builder = meld_builder(dataset, data_dir)
    version = str(builder.version)
    if builder.sample_version():  # A changed sample generator makes other data.
        version += f"+sample.{builder.sample_version()}"
    if config.dataset_version not in ("", version):
        raise RunError(
            f"The config asks for meld/{dataset} version {config.dataset_version}, but this "
            f"meld_tf reads version {version}; replay it with the meld_tf it was made with."
        )
    resolved = config.replace(dataset=dataset, data_dir=data_dir, dataset_version=version)
    return resolved, reason


def data_of_run(config, recorded, data_dir=None):
    """A finished run's config resolved to the data it trained on (`resolve_data`).

    Args:
        config: the run's ``config.json``.
        recorded: its ``metrics.json`` (names the dataset of a run of an older meld_tf,
            whose config says ``auto``).
        data_dir: read the data from this folder instead of the run's.
    """
    if config.dataset == "auto":
        config = config.replace(dataset=recorded.get("dataset", "auto"))
    if data_dir:
        config = config.replace(data_dir=data_dir)
    return resolve_data(config)[0]


def load_splits(config, dataset=None):
    """``{"train", "validation", "test"}`` examples of the config's dataset (or of
    ``dataset``), prepared if needed."""
    dataset = dataset or config.dataset
    if dataset == "text" and set(config.model.modalities) != {"text"}:
        raise RunError(
            f"Modalities {config.model.modalities} need clips, but dataset 'text' holds text "
            "only; use --dataset full or sample, or --modalities text."
        )
    splits = meld_data.load_meld(
        dataset, data_dir=config.data_dir or None, manual_dir=config.manual_dir or None
    )
    if config.max_examples:
        splits = {name: split.take(config.max_examples) for name, split in splits.items()}
    return splits
