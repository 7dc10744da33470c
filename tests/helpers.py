"""Shared test helpers: one call checks a layer end to end, one checks a model's saving."""

import keras
import numpy as np
import tensorflow as tf

from meld_tf.labels import MODALITIES


def _flat(structure):
    return [np.asarray(x) for x in keras.tree.flatten(structure)]


def _assert_same(a, b, atol=1e-5):
    for x, y in zip(_flat(a), _flat(b), strict=True):
        np.testing.assert_allclose(x, y, atol=atol, rtol=1e-5)


def _train_step(target, input_data, call_kwargs=None):
    """One SGD step on ``sum(mean(output ** 2))``; returns the number of weights changed."""
    weights = target.trainable_weights
    before = [np.array(w) for w in weights]
    with tf.GradientTape() as tape:
        outputs = target(input_data, training=True, **(call_kwargs or {}))
        flat = keras.tree.flatten(outputs)
        loss = sum(tf.reduce_mean(tf.square(tf.cast(o, "float32"))) for o in flat)
    grads = tape.gradient(loss, weights)
    pairs = [(g, w) for g, w in zip(grads, weights) if g is not None]
    assert pairs, f"no trainable weight of {target.name} gets a gradient"
    keras.optimizers.SGD(learning_rate=0.1).apply_gradients(pairs)
    changed = sum(not np.allclose(b, np.array(w)) for b, w in zip(before, weights))
    assert changed, f"one training step changed no weight of {target.name}"
    return grads


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape=None,
    call_kwargs=None,
    expect_trainable=True,
):
    """Builds and calls a layer, round-trips its config, and runs one training step.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: what the layer is called on.
        expected_output_shape: optional shape of the output (a list of shapes for a
            layer with several outputs).
        call_kwargs: extra call arguments.
        expect_trainable: whether the layer must have weights that one step changes
            (every trainable weight must then get a gradient).

    Returns:
        The layer's output on ``input_data``.
    """
    call_kwargs = call_kwargs or {}
    layer = layer_cls(**init_kwargs)
    output = layer(input_data, **call_kwargs)
    if expected_output_shape is not None:
        shapes = [tuple(x.shape) for x in keras.tree.flatten(output)]
        nested = isinstance(expected_output_shape[0], (tuple, list))
        expected = list(expected_output_shape) if nested else [expected_output_shape]
        assert shapes == [tuple(s) for s in expected], (shapes, expected)
    for value in _flat(output):
        assert np.all(np.isfinite(value)), f"{layer_cls.__name__} output is not finite"

    # Config round trip: constructor arguments, then full (de)serialization.
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert config[key] == value, f"get_config()[{key!r}] = {config[key]!r} != {value!r}"
    clone = layer_cls.from_config(config)
    clone(input_data, **call_kwargs)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == config
    _assert_same(clone(input_data, **call_kwargs), output)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is layer_cls

    if expect_trainable:
        grads = _train_step(layer, input_data, call_kwargs)
        missing = [w.path for g, w in zip(grads, layer.trainable_weights) if g is None]
        assert not missing, f"weights without gradient: {missing}"
    else:
        assert not layer.trainable_weights
    return output


def run_model_saving_test(model, input_data, tmp_path, train=True):
    """Runs a model forward, one training step, saves it to ``.keras`` and reloads it
    in safe mode without ``custom_objects``: the reloaded model gives the same outputs.

    Returns:
        The reloaded model.
    """
    outputs = model(input_data, training=False)
    for value in _flat(outputs):
        assert np.all(np.isfinite(value))
    if train:
        _train_step(model, input_data)
        outputs = model(input_data, training=False)
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    _assert_same(restored(input_data, training=False), outputs)
    return restored


def tiny_config_kwargs():
    """ModelConfig sizes small enough for fast tests."""
    return dict(
        text_preset="bert_tiny",
        text_max_length=8,
        text_vocab_size=50,
        text_embedding_dim=4,
        text_lstm_units=4,
        num_mel_bins=8,
        num_mfcc=4,
        audio_conv_filters=(4,),
        audio_lstm_units=4,
        num_frames=2,
        frame_size=32,
        video_width=4,
        latent_dim=8,
        hidden_dim=8,
    )


def random_inputs(config, batch=2, num_audio_frames=12, seed=0):
    """Random model inputs for every modality of ``config`` (all masks 1)."""
    rng = np.random.default_rng(seed)
    length = config.text_max_length
    padding = np.arange(length)[None, :] < rng.integers(2, length + 1, size=(batch, 1))
    size = config.frame_size
    data = {
        "text_token_ids": (rng.integers(1, 50, (batch, length)) * padding).astype("int32"),
        "text_segment_ids": np.zeros((batch, length), "int32"),
        "text_padding_mask": padding,
        "audio_features": rng.normal(size=(batch, num_audio_frames, config.audio_feature_dim)),
        "video_frames": rng.random((batch, config.num_frames, size, size, 3)),
    }
    data["audio_features"] = data["audio_features"].astype("float32")
    data["video_frames"] = data["video_frames"].astype("float32")
    if config.text_encoder != "bert":
        del data["text_segment_ids"]
    inputs = {}
    for modality in config.modalities:
        for name, value in data.items():
            if name.startswith(modality):
                inputs[name] = value
        inputs[f"{modality}_mask"] = np.ones((batch,), "float32")
    assert set(inputs) <= set(MODALITY_INPUTS)
    return inputs


MODALITY_INPUTS = (
    "text_token_ids", "text_segment_ids", "text_padding_mask", "audio_features", "video_frames",
) + tuple(f"{m}_mask" for m in MODALITIES)
