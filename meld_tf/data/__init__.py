"""MELD data: CSV reading and repair, clip decoding, the synthetic sample, TFDS loading.

``load_meld``, ``prepare_meld``, ``is_prepared``, ``split_sizes`` and ``default_data_dir``
come from `meld_tf.data.prepare`; they are imported on first use, so that the decoding
modules (`media`, `text_repair`) stay free of TensorFlow.
"""

_PREPARE_EXPORTS = ("default_data_dir", "is_prepared", "load_meld", "prepare_meld", "split_sizes")

__all__ = list(_PREPARE_EXPORTS)


def __getattr__(name):
    if name in _PREPARE_EXPORTS:
        from meld_tf.data import prepare

        return getattr(prepare, name)
    raise AttributeError(f"module 'meld_tf.data' has no attribute {name!r}")
