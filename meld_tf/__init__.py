"""meld-tf: emotion and sentiment recognition in conversation on MELD, with Keras 3."""

import contextlib
import logging
import os
import sys


@contextlib.contextmanager
def _native_stderr_discarded():
    """Discards what native code writes to the process's stderr (file descriptor 2).

    TensorFlow's C++ start-up lines (CUDA probing on a machine without a GPU) are written
    before ``TF_CPP_MIN_LOG_LEVEL`` applies, once per native library, or as errors when the
    devices are first listed; a user cannot act on them. Python errors still reach the
    user: they are raised, not written, in here.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _NoLibraryNoise(logging.Filter):
    """Drops what libraries log about their own internals on every load: deprecation
    notices (TFDS: ``FeatureConnector.dtype is deprecated``) and TFDS's notice that a
    config is not one of the builder's listed ones (every generated sample size)."""

    def filter(self, record):
        message = record.getMessage()
        return not ("is deprecated" in message
                    or message.startswith("Using custom data configuration: MeldConfig("))


logging.getLogger("absl").addFilter(_NoLibraryNoise())
# Keep TensorFlow's C++ start-up chatter out of the output; a user who wants it sets
# TF_CPP_MIN_LOG_LEVEL=0 themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN keeps 1,024 compiled primitives by default; length-bucketed batches bring dozens
# of shapes per layer, whose primitives may be evicted and rebuilt (bench/onednn_cache.py:
# 1.01x and 1.20x in two pairs). oneDNN reads it when it builds its first primitive.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")
if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0" and "tensorflow" not in sys.modules:
    with _native_stderr_discarded():
        import tensorflow

        tensorflow.config.list_physical_devices()  # The device probe's lines, too.

# metrics and optimizer: registered, for what a saved run names.
from meld_tf import metrics, optimizer, workarounds  # noqa: E402, F401

workarounds.einsum_through_tf_einsum()  # Keras's float einsum path is slow on CPU.
from meld_tf.labels import EMOTIONS, MODALITIES, SENTIMENTS  # noqa: E402
from meld_tf.models import build_classifier  # noqa: E402  (also registers the custom layers)
from meld_tf.task import MeldClassifier  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "MeldClassifier", "build_classifier", "EMOTIONS", "SENTIMENTS", "MODALITIES",
    "__version__",
]
