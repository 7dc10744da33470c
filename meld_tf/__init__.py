"""meld-tf: emotion and sentiment recognition in conversation on MELD, with Keras 3."""

from meld_tf.labels import EMOTIONS, MODALITIES, SENTIMENTS
from meld_tf.models import build_classifier  # also registers the custom layers

__version__ = "0.1.0"

__all__ = ["build_classifier", "EMOTIONS", "SENTIMENTS", "MODALITIES", "__version__"]
