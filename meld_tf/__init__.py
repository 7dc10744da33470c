"""meld-tf: emotion and sentiment recognition in conversation on MELD, with Keras 3."""

import os

# Keep TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) out of the output;
# a user who wants it sets TF_CPP_MIN_LOG_LEVEL themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from meld_tf.labels import EMOTIONS, MODALITIES, SENTIMENTS  # noqa: E402
from meld_tf.models import build_classifier  # noqa: E402  (also registers the custom layers)

__version__ = "0.1.0"

__all__ = ["build_classifier", "EMOTIONS", "SENTIMENTS", "MODALITIES", "__version__"]
