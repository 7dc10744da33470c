"""PriorAdjustment: the logit adjustment the emotion head keeps in the model."""

import keras
import numpy as np
import pytest
from helpers import random_inputs, run_layer_test, run_model_saving_test, tiny_config_kwargs

from meld_tf.calibration import prior_bias
from meld_tf.config import ModelConfig
from meld_tf.models import build_classifier
from meld_tf.models.prior_adjustment import PriorAdjustment

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")


def test_layer_passes_probabilities_until_its_bias_is_set():
    outputs = run_layer_test(PriorAdjustment, {"num_classes": 3}, PROBABILITIES,
                             expected_output_shape=(2, 3), expect_trainable=False)  # fmt: skip
    np.testing.assert_allclose(outputs, PROBABILITIES, atol=1e-6)


def test_bias_gives_the_adjusted_softmax():
    layer = PriorAdjustment(3)
    bias = prior_bias([80, 15, 5], 1.0)
    layer.set_bias(bias)
    logits = np.log(PROBABILITIES) + bias
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(layer(PROBABILITIES), expected, rtol=1e-5)
    assert not layer.trainable_weights  # never trained


def test_classifier_with_logit_adjustment_saves_its_bias(tmp_path):
    config = ModelConfig(**{**tiny_config_kwargs(), "modalities": ("audio",),
                            "logit_adjustment": "macro_f1"})  # fmt: skip
    model = build_classifier(config)
    assert isinstance(model.get_layer("emotion"), PriorAdjustment)
    assert model.get_layer("emotion_unadjusted").activation is keras.activations.softmax
    inputs = random_inputs(config, batch=2)
    bias = prior_bias([50, 10, 10, 5, 5, 15, 5], 0.7)
    model.get_layer("emotion").set_bias(bias)
    restored = run_model_saving_test(model, inputs, tmp_path, train=False)
    np.testing.assert_allclose(restored.get_layer("emotion").bias, bias, rtol=1e-6)


@pytest.mark.parametrize("adjustment", ["none", "weighted_f1"])
def test_output_names_do_not_change(adjustment):
    config = ModelConfig(**{**tiny_config_kwargs(), "modalities": ("audio",),
                            "logit_adjustment": adjustment})  # fmt: skip
    assert sorted(build_classifier(config).output) == ["emotion", "sentiment"]
