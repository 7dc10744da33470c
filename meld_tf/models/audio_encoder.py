"""Audio encoder: input standardisation by the training split's statistics, Conv1D blocks
over log-mel / MFCC frames, then statistics pooling (mean and standard deviation over time)
or an LSTM."""

import keras
from keras import ops

from meld_tf.models.normalization import encoder_norm

NORM_EPSILON = 1e-3
INPUT_NORM = "audio_input_norm"


def audio_inputs(config):
    """The audio input: ``(T, F)`` feature frames, any number of frames T."""
    return {
        "audio_features": keras.Input(
            (None, config.audio_feature_dim), dtype="float32", name="audio_features"
        )
    }


@keras.saving.register_keras_serializable(package="meld_tf")
class StatisticsPooling(keras.layers.Layer):
    """``(B, T, C)`` -> ``(B, 2C)``: the mean and the standard deviation over time."""

    def call(self, x):
        mean = ops.mean(x, axis=1)
        variance = ops.mean(ops.square(x - ops.expand_dims(mean, 1)), axis=1)
        return ops.concatenate([mean, ops.sqrt(variance + NORM_EPSILON)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (input_shape[0], None if channels is None else 2 * channels)


def build_audio_encoder(config):
    """Returns a functional model: ``{"audio_features"}`` -> latent ``(B, latent_dim)``.

    First each feature bin is standardised with the mean and variance of the training
    split (a ``keras.layers.Normalization`` named ``audio_input_norm``, adapted once by
    `adapt_audio_normalization` before training and saved with the model), since log-mel
    values lie far from zero (about -14 to +9); per-utterance CMVN would erase the
    utterance's average spectrum, a cue to the emotion. Then one block per entry of
    ``config.audio_conv_filters``: Conv1D (kernel 3, same padding), normalisation
    (``config.norm``, see `meld_tf.models.normalization`), ReLU, max pooling by 2 in time. Then
    ``config.audio_pooling``: ``"stats"`` (mean and standard deviation over time) or
    ``"lstm"`` (an LSTM of ``config.audio_lstm_units``), and a Dense projection.
    """
    # Layers.
    input_norm = keras.layers.Normalization(axis=-1, name=INPUT_NORM, dtype="float32")
    blocks = []
    for i, filters in enumerate(config.audio_conv_filters):
        blocks += [
            keras.layers.Conv1D(filters, 3, padding="same", use_bias=False, name=f"audio_conv{i}"),
            encoder_norm(filters, config, name=f"audio_norm{i}"),
            keras.layers.ReLU(name=f"audio_relu{i}"),
            keras.layers.MaxPooling1D(2, padding="same", name=f"audio_pool{i}"),
        ]
    if config.audio_pooling == "stats":
        pooling = StatisticsPooling(name="audio_stats")
    else:
        pooling = keras.layers.LSTM(config.audio_lstm_units, name="audio_lstm")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="audio_latent")

    # Functional graph.
    inputs = audio_inputs(config)
    x = input_norm(inputs["audio_features"])
    for block in blocks:
        x = block(x)
    return keras.Model(inputs, projection(pooling(x)), name="audio_encoder")


def adapt_audio_normalization(model, batches):
    """Sets ``model``'s audio input normalisation to the statistics of ``batches``.

    Args:
        model: a classifier (or audio encoder) with an ``audio_input_norm`` layer; a model
            without audio is returned as it is.
        batches: ``tf.data`` of ``(inputs, ...)`` batches of the training split; the frames
            of examples whose ``audio_mask`` is 0 (no audio) are left out.

    Returns:
        ``model``.
    """
    import tensorflow as tf  # the tf.data side of the model, as in the preprocessor

    layer = _find_layer(model, INPUT_NORM)
    if layer is None:
        return model
    if not isinstance(batches, tf.data.Dataset):  # arrays: one batch of them
        batches = tf.data.Dataset.from_tensors(batches)

    def present_frames(inputs, *rest):
        features = inputs["audio_features"]
        if "audio_mask" in inputs:
            features = tf.boolean_mask(features, inputs["audio_mask"] > 0)
        return tf.reshape(features, [1, -1, features.shape[-1]])  # the layer's rank

    layer.adapt(batches.map(present_frames))
    return model


def _find_layer(model, name):
    """The layer called ``name`` in ``model`` or in a model nested in it, else None."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            found = _find_layer(layer, name)
            if found is not None:
                return found
    return None
