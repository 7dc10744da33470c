"""MELD data below the TFDS builder: CSV reading and repair (`text_repair`), clip decoding
(`media`, `stream_decoding`, `face_crop`, `audio_features`), the synthetic sample (`sample`,
`sample_text`, `sample_media`, `sample_archive`, `sample_oracle`).

`tfds_meld` builds the dataset from these modules; loading the built dataset is
`meld_tf.dataset`'s, above the builder. Nothing here imports `tfds_meld`, and the decoding
modules stay free of TensorFlow.
"""
