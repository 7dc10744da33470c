"""TFDS datasets of meld-tf. ``import tfds_meld`` registers ``meld`` for ``tfds.load``."""

from tfds_meld.meld import meld_dataset_builder  # noqa: F401  (registers "meld")
