"""The MELD TFDS dataset (``tfds build tfds_meld/meld``); importing `tfds_meld` registers it."""
