"""meld-tf: emotion and sentiment recognition in conversation on MELD, with Keras 3."""

from meld_tf.labels import EMOTIONS, MODALITIES, SENTIMENTS

__version__ = "0.1.0"

__all__ = ["EMOTIONS", "SENTIMENTS", "MODALITIES", "__version__"]
