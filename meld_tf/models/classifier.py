"""The multimodal classifier: encoders, modality masks, fusion, two heads."""

import keras

from meld_tf.labels import EMOTIONS, HEADS
from meld_tf.models.attention_fusion import AttentionFusion
from meld_tf.models.audio_encoder import audio_inputs, build_audio_encoder
from meld_tf.models.bert_text_encoder import build_bert_text_encoder, text_inputs
from meld_tf.models.bilstm_text_encoder import build_bilstm_text_encoder
from meld_tf.models.concat_fusion import ConcatFusion
from meld_tf.models.conv3d_video_encoder import build_conv3d_video_encoder
from meld_tf.models.late_fusion import LateFusion
from meld_tf.models.modality_dropout import ModalityDropout
from meld_tf.models.prior_adjustment import PriorAdjustment
from meld_tf.models.resnet18_video_encoder import build_resnet18_video_encoder, video_inputs

ENCODERS = {
    ("text", "bert"): build_bert_text_encoder,
    ("text", "bilstm"): build_bilstm_text_encoder,
    ("audio", "cnn_lstm"): build_audio_encoder,
    ("video", "resnet18"): build_resnet18_video_encoder,
    ("video", "conv3d"): build_conv3d_video_encoder,
}


def build_encoder(modality, config):
    """Returns the encoder of ``modality``: a functional model, inputs dict -> latent."""
    kind = {
        "text": config.text_encoder, "audio": "cnn_lstm", "video": config.video_encoder
    }[modality]
    return ENCODERS[(modality, kind)](config)


def model_inputs(config):
    """All model inputs for ``config.modalities`` (names fixed by ARCHITECTURE.md)."""
    builders = {"text": text_inputs, "audio": audio_inputs, "video": video_inputs}
    inputs = {}
    for modality in config.modalities:
        inputs.update(builders[modality](config))
        name = f"{modality}_mask"
        inputs[name] = keras.Input((), dtype="float32", name=name)
    return inputs


def _stack_masks(inputs, modalities):
    """The ``(B, M)`` mask, columns in the order of ``modalities``."""
    columns = [
        keras.layers.Reshape((1,), name=f"{m}_mask_column")(inputs[f"{m}_mask"]) for m in modalities
    ]
    if len(columns) == 1:
        return columns[0]
    return keras.layers.Concatenate(name="modality_mask")(columns)


def _mlp(x, config, prefix):
    """Dropout, a hidden ReLU layer of ``hidden_dim``, dropout."""
    x = keras.layers.Dropout(config.dropout, name=f"{prefix}dropout_in")(x)
    x = keras.layers.Dense(config.hidden_dim, activation="relu", name=f"{prefix}hidden")(x)
    return keras.layers.Dropout(config.dropout, name=f"{prefix}dropout_out")(x)


def build_classifier(config):
    """Returns a Keras functional model for ``config`` (a ``ModelConfig``).

    Inputs: a dict with only the chosen modalities' inputs and their ``*_mask`` inputs.
    Outputs: ``{"emotion": (B, 7) softmax, "sentiment": (B, 3) softmax}``, and with
    ``config.auxiliary_heads`` each encoder's own emotion softmax ``"<modality>_emotion"``
    (`auxiliary_emotion`). The fusion layer is named ``"fusion"``; see
    ``attention_weights_model`` for its weights. With ``config.logit_adjustment`` the
    emotion output is a `PriorAdjustment` of the head's softmax.

    Example:
    >>> from meld_tf.config import ModelConfig
    >>> model = build_classifier(ModelConfig(modalities=("audio",), audio_conv_filters=(4,),
    ...     audio_lstm_units=4, latent_dim=4, hidden_dim=4, num_mel_bins=8))
    >>> sorted(model.output)
    ['emotion', 'sentiment']
    """
    # Encoders, one per modality.
    modalities = config.modalities
    inputs = model_inputs(config)
    latents = []
    for modality in modalities:
        encoder = build_encoder(modality, config)
        latents.append(encoder({name: inputs[name] for name in encoder.input}))
    mask = _stack_masks(inputs, modalities)
    if config.modality_dropout > 0:
        mask = ModalityDropout(config.modality_dropout, name="modality_dropout")(mask)

    # Fusion and heads.
    outputs = {}
    if config.fusion == "late":
        per_modality = {head: [] for head in HEADS}
        for modality, latent in zip(modalities, latents):
            hidden = _mlp(latent, config, prefix=f"{modality}_")
            for head, classes in HEADS.items():
                per_modality[head].append(
                    keras.layers.Dense(len(classes), name=f"{modality}_{head}_logits")(hidden)
                )
        for head in HEADS:
            name = "fusion" if head == "emotion" else f"fusion_{head}"
            logits = LateFusion(name=name)([per_modality[head], mask])
            softmax = keras.layers.Activation(
                "softmax", dtype="float32", name=head_name(head, config))
            outputs[head] = softmax(logits)
    else:
        if config.fusion == "attention":
            fused, _ = AttentionFusion(config.latent_dim, name="fusion")([latents, mask])
        else:
            fused = ConcatFusion(name="fusion")([latents, mask])
        hidden = _mlp(fused, config, prefix="")
        for head, classes in HEADS.items():
            outputs[head] = keras.layers.Dense(
                len(classes), activation="softmax", dtype="float32", name=head_name(head, config)
            )(hidden)
    if config.logit_adjustment != "none":
        outputs["emotion"] = PriorAdjustment(len(EMOTIONS), name="emotion")(outputs["emotion"])
    if config.auxiliary_heads:
        for modality, latent in zip(modalities, latents):
            outputs[f"{modality}_emotion"] = auxiliary_emotion(latent, config, modality)
    return keras.Model(inputs, outputs, name="meld_classifier")


def head_name(head, config):
    """The name of a head's softmax layer: the output's name, or with a logit adjustment
    of the emotion head, ``"emotion_unadjusted"`` (the `PriorAdjustment` is ``"emotion"``)."""
    adjusted = head == "emotion" and config.logit_adjustment != "none"
    return f"{head}_unadjusted" if adjusted else head


def auxiliary_emotion(latent, config, modality):
    """An encoder's own emotion head: dropout and a softmax layer on its latent.

    Trained with its own loss (``config.auxiliary_loss``, on the examples that have the
    modality), it gives every encoder a gradient of its own, however much the fused head
    leans on the others; the fused outputs do not use it.
    """
    x = keras.layers.Dropout(config.dropout, name=f"{modality}_emotion_dropout")(latent)
    return keras.layers.Dense(
        len(EMOTIONS), activation="softmax", dtype="float32", name=f"{modality}_emotion"
    )(x)


def attention_weights_model(model):
    """Returns a model with ``model``'s inputs that outputs the ``(B, M)`` attention
    weights of its ``"fusion"`` layer, columns in the order of the config's modalities.

    Raises ValueError if ``model`` has no ``AttentionFusion`` layer named ``"fusion"``.
    """
    try:
        fusion = model.get_layer("fusion")
    except ValueError:
        fusion = None
    if not isinstance(fusion, AttentionFusion):
        found = type(fusion).__name__ if fusion is not None else "no layer"
        raise ValueError(
            f"attention_weights_model needs a model built with fusion='attention' (an "
            f"AttentionFusion layer named 'fusion'); model {model.name!r} has {found} there."
        )
    return keras.Model(model.input, fusion.output[1], name=f"{model.name}_attention_weights")
