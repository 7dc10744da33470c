"""Audio encoder: input standardisation, Conv1D blocks over log-mel / MFCC frames,
then statistics pooling (mean and standard deviation over time) or an LSTM."""

import keras
from keras import ops

NORM_EPSILON = 1e-3


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

    First each feature bin is standardised with batch statistics over examples and
    frames (moving averages at inference), since log-mel values lie far from zero (about
    -14 to +9); per-utterance CMVN would erase the utterance's average spectrum, a cue
    to the emotion. Then one block per entry of
    ``config.audio_conv_filters``: Conv1D (kernel 3, same padding), batch normalisation,
    ReLU, max pooling by 2 in time. Then ``config.audio_pooling``: ``"stats"`` (mean and
    standard deviation over time) or ``"lstm"`` (an LSTM of ``config.audio_lstm_units``),
    and a Dense projection.
    """
    # Layers.
    input_norm = keras.layers.BatchNormalization(
        center=False, scale=False, epsilon=NORM_EPSILON, name="audio_input_norm"
    )
    blocks = []
    for i, filters in enumerate(config.audio_conv_filters):
        blocks += [
            keras.layers.Conv1D(filters, 3, padding="same", use_bias=False, name=f"audio_conv{i}"),
            keras.layers.BatchNormalization(name=f"audio_bn{i}"),
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
