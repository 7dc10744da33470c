"""Audio encoder: Conv1D blocks over log-mel / MFCC frames, then an LSTM."""

import keras


def audio_inputs(config):
    """The audio input: ``(T, F)`` feature frames, any number of frames T."""
    return {
        "audio_features": keras.Input(
            (None, config.audio_feature_dim), dtype="float32", name="audio_features"
        )
    }


def build_audio_encoder(config):
    """Returns a functional model: ``{"audio_features"}`` -> latent ``(B, latent_dim)``.

    One block per entry of ``config.audio_conv_filters``: Conv1D (kernel 3, same
    padding), batch normalisation, ReLU, max pooling by 2 in time. Then an LSTM of
    ``config.audio_lstm_units`` and a Dense projection.
    """
    # Layers.
    blocks = []
    for i, filters in enumerate(config.audio_conv_filters):
        blocks += [
            keras.layers.Conv1D(filters, 3, padding="same", use_bias=False, name=f"audio_conv{i}"),
            keras.layers.BatchNormalization(name=f"audio_bn{i}"),
            keras.layers.ReLU(name=f"audio_relu{i}"),
            keras.layers.MaxPooling1D(2, padding="same", name=f"audio_pool{i}"),
        ]
    lstm = keras.layers.LSTM(config.audio_lstm_units, name="audio_lstm")
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="audio_latent")

    # Functional graph.
    inputs = audio_inputs(config)
    x = inputs["audio_features"]
    for block in blocks:
        x = block(x)
    return keras.Model(inputs, projection(lstm(x)), name="audio_encoder")
