"""Multimodal models: encoders, fusion layers and the classifier builder.

Importing this package registers every custom layer, so ``keras.models.load_model``
reloads a saved classifier in safe mode without ``custom_objects``.
"""

from meld_tf.models.attention_fusion import AttentionFusion
from meld_tf.models.classifier import attention_weights_model, build_classifier, build_encoder
from meld_tf.models.concat_fusion import ConcatFusion
from meld_tf.models.fast_conv2d import FastConv2D
from meld_tf.models.late_fusion import LateFusion
from meld_tf.models.modality_dropout import ModalityDropout
from meld_tf.models.text_tokenizer import TextTokenizer
from meld_tf.models.token_pooling import TokenPooling

__all__ = [
    "AttentionFusion",
    "ConcatFusion",
    "FastConv2D",
    "LateFusion",
    "ModalityDropout",
    "TextTokenizer",
    "TokenPooling",
    "attention_weights_model",
    "build_classifier",
    "build_encoder",
]
