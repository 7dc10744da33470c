"""`meld_tf.task.MeldClassifier`: its encoders, its default ``compile()``, its saving.

Raw-input prediction of a trained run is checked in ``test_serving.py``, beside the
serving function it answers through.
"""

import os
import warnings

import keras
import numpy as np
import pytest
from helpers import random_inputs, tiny_config_kwargs

from meld_tf import MeldClassifier
from meld_tf.config import ModelConfig
from meld_tf.labels import HEADS
from meld_tf.optimizer import PartwiseAdamW
from meld_tf.train_config import TrainConfig


def _config(auxiliary_loss=0.5, text_encoder="bilstm", model_kwargs=None, **kwargs):
    model = ModelConfig(**{**tiny_config_kwargs(), "modalities": ("text", "audio"),
                           "text_encoder": text_encoder, "dropout": 0.0,
                           "auxiliary_loss": auxiliary_loss, **(model_kwargs or {})})  # fmt: skip
    return TrainConfig(model=model, **kwargs)


MPNET_TINY_DIR = os.path.join(os.path.dirname(__file__), "data", "mpnet_tiny")


def _labels(batch, seed=0):
    rng = np.random.default_rng(seed)
    emotion = np.eye(7, dtype="float32")[rng.integers(0, 7, batch)]
    sentiment = np.eye(3, dtype="float32")[rng.integers(0, 3, batch)]
    return {"emotion": emotion, "sentiment": sentiment,
            "text_emotion": emotion, "audio_emotion": emotion}  # fmt: skip


def _cross_entropy(labels, probabilities, smoothing):
    """Mean label-smoothed categorical cross-entropy, computed in numpy."""
    classes = labels.shape[-1]
    targets = labels * (1 - smoothing) + smoothing / classes
    probabilities = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return float(np.mean(-(targets * np.log(probabilities)).sum(-1)))


def test_encoders_are_the_models_own():
    model = MeldClassifier.for_config(_config())
    assert list(model.encoders) == ["text", "audio"]
    assert model.encoders["audio"] is model.get_layer("audio_encoder")
    assert sorted(model.output) == ["audio_emotion", "emotion", "sentiment", "text_emotion"]


def test_compile_supplies_the_runs_loss_weights_and_optimizer():
    """The loss ``compile()`` chooses is the weighted sum, computed here independently, of
    label-smoothed cross-entropies of both heads and the auxiliary heads."""
    config = _config(auxiliary_loss=0.3, label_smoothing=0.1, loss_weights=(1.0, 0.5))
    model = MeldClassifier.for_config(config)
    model.compile()
    assert isinstance(model.optimizer, PartwiseAdamW)
    inputs, labels = random_inputs(model.config.model, batch=8), _labels(8)
    logs = model.evaluate(inputs, labels, verbose=0, return_dict=True)
    loss = logs["loss"]
    outputs = model.predict_on_batch(inputs)
    weights = {"emotion": 1.0, "sentiment": 0.5, "text_emotion": 0.3, "audio_emotion": 0.3}
    expected = sum(w * _cross_entropy(labels[h], np.asarray(outputs[h]), 0.1)
                   for h, w in weights.items())  # fmt: skip
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    assert any("emotion" in key and "f1" in key for key in logs), sorted(logs)


def test_compile_arguments_replace_the_defaults():
    model = MeldClassifier.for_config(_config())
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy",
                  loss_weights=None, metrics=None)  # fmt: skip
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    model.fit(random_inputs(model.config.model, batch=4), _labels(4), epochs=1, verbose=0)


@pytest.mark.parametrize("text_encoder, model_kwargs", [
    ("bilstm", {}), ("bert", {}),
    ("bert", {"text_preset": MPNET_TINY_DIR, "text_frozen_layers": 1}),  # a frozen stack
])  # fmt: skip
def test_saved_classifier_reloads_as_one(tmp_path, text_encoder, model_kwargs):
    model = MeldClassifier.for_config(_config(text_encoder=text_encoder,
                                              model_kwargs=model_kwargs))  # fmt: skip
    model.compile()
    inputs = random_inputs(model.config.model, batch=4)
    with warnings.catch_warnings(record=True) as caught:  # bert: the pooler's is silenced
        model.fit(inputs, _labels(4), epochs=1, verbose=0)
    assert not [w for w in caught if "pooled_dense" in str(w.message)
                and "Gradients do not exist" in str(w.message)]  # fmt: skip
    path = str(tmp_path / "model.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping variable loading")  # state kept
        loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, MeldClassifier)
    for head in HEADS:
        np.testing.assert_allclose(
            loaded.predict_on_batch(inputs)[head], model.predict_on_batch(inputs)[head],
            atol=1e-6,
        )  # fmt: skip
    assert isinstance(loaded.optimizer, PartwiseAdamW)  # Compiled as saved, its state too.
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 1


def test_without_a_config_or_preprocessor_the_error_says_how_to_get_one():
    functional = MeldClassifier.for_config(_config())
    bare = MeldClassifier(functional.input, functional.output)
    with pytest.raises(ValueError, match="MeldClassifier.for_config"):
        bare.compile()
    with pytest.raises(ValueError, match="from_run"):
        functional.predict({"text": ["Oh my God!"]})
