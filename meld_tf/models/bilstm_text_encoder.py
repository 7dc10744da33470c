"""Text encoder: word embeddings and a bidirectional LSTM, projected to the latent size."""

import keras

from meld_tf.models.bert_text_encoder import text_inputs


def build_bilstm_text_encoder(config):
    """Returns a functional model: text inputs dict -> latent ``(B, latent_dim)``.

    Token ids come from ``TextTokenizer`` (a ``TextVectorization`` vocabulary of
    ``config.text_vocab_size`` ids, 0 = padding); padding tokens are masked out of the LSTM.
    """
    # Layers.
    embedding = keras.layers.Embedding(
        config.text_vocab_size, config.text_embedding_dim, name="text_embedding"
    )
    lstm = keras.layers.Bidirectional(
        keras.layers.LSTM(config.text_lstm_units), name="text_bilstm"
    )
    projection = keras.layers.Dense(config.latent_dim, activation="relu", name="text_latent")

    # Functional graph.
    inputs = text_inputs(config)
    embedded = embedding(inputs["text_token_ids"])
    encoded = lstm(embedded, mask=inputs["text_padding_mask"])
    return keras.Model(inputs, projection(encoded), name="text_encoder")
