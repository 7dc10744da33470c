"""Text encoder: a KerasHub BertBackbone (or an MPNetBackbone), pooled, projected to the
latent size."""

import keras

from meld_tf.models.presets import load_bert_backbone
from meld_tf.models.token_pooling import TokenPooling


def text_inputs(config):
    """The text inputs of the model (names fixed by ARCHITECTURE.md).

    Their length is left open (at most ``config.text_max_length`` tokens): the pipeline
    may trim a batch's padding (``TrainConfig.bucket_by_length``).
    """
    inputs = {"text_token_ids": keras.Input((None,), dtype="int32", name="text_token_ids")}
    if config.text_encoder == "bert":
        inputs["text_segment_ids"] = keras.Input(
            (None,), dtype="int32", name="text_segment_ids"
        )
    inputs["text_padding_mask"] = keras.Input((None,), dtype="bool", name="text_padding_mask")
    return inputs


def build_bert_text_encoder(config):
    """Returns a functional model: text inputs dict -> latent ``(B, latent_dim)``.

    The backbone comes from ``config.text_preset`` (see ``meld_tf.models.presets``), is
    frozen unless ``config.text_trainable``, and is pooled with ``config.text_pooling``.
    """
    # Layers.
    backbone = load_bert_backbone(
        config.text_preset, config.text_max_length, config.text_frozen_layers
    )
    backbone.trainable = config.text_trainable
    pooling = TokenPooling(config.text_pooling, name="text_pooling")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="text_latent")

    # Functional graph.
    inputs = text_inputs(config)
    backbone_inputs = {
        "token_ids": inputs["text_token_ids"],
        "segment_ids": inputs["text_segment_ids"],
        "padding_mask": inputs["text_padding_mask"],
    }
    # MPNet has no segment embeddings: the model keeps the input and ignores it.
    outputs = backbone({name: backbone_inputs[name] for name in backbone.input})
    pooled = pooling([outputs["sequence_output"], inputs["text_padding_mask"]])
    return keras.Model(inputs, projection(pooled), name="text_encoder")
