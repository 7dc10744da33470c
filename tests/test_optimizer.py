"""Each part of the model learns at its own rate: PartwiseAdamW and the rates of a run."""

import pathlib

import keras
import keras_hub
import numpy as np
import pytest
from helpers import random_inputs, tiny_config_kwargs

from meld_tf.config import ModelConfig
from meld_tf.models import build_classifier
from meld_tf.models.mpnet_backbone import MPNetBackbone
from meld_tf.optimizer import PartwiseAdamW, make_optimizer, pretrained_weights
from meld_tf.train_config import TrainConfig


def _step(optimizer, variables, gradients, steps=3):
    for _ in range(steps):
        optimizer.apply_gradients(zip(gradients, variables))
    return [np.asarray(v) for v in variables]


def test_each_weight_steps_as_an_adamw_of_its_own_rate():
    """Against Keras's own AdamW run separately at each rate."""
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 2)).astype("float32") for _ in range(2)]
    gradients = [rng.normal(size=(3, 2)).astype("float32") for _ in range(2)]
    fast = keras.Variable(start[0], name="fast_kernel")
    slow = keras.Variable(start[1], name="slow_kernel")
    partwise = PartwiseAdamW(1e-2, multipliers={slow.path: 0.1}, decoupled_weight_decay=0.05)
    got = _step(partwise, [fast, slow], gradients)
    for value, rate, gradient, expected_start in zip(got, (1e-2, 1e-3), gradients, start):
        reference = keras.Variable(expected_start, name="kernel")
        adamw = keras.optimizers.AdamW(rate, weight_decay=0.05)
        np.testing.assert_allclose(value, _step(adamw, [reference], [gradient])[0], rtol=1e-5)


def test_bias_is_not_decayed():
    bias = keras.Variable(np.ones(2, "float32"), name="bias")
    _step(PartwiseAdamW(1e-2, decoupled_weight_decay=0.5), [bias], [np.zeros(2, "float32")])
    np.testing.assert_array_equal(np.asarray(bias), 1.0)


@pytest.fixture(scope="module")
def local_bert(tmp_path_factory):
    """A small BERT saved as a local preset folder: a 'pretrained' text encoder."""
    folder = tmp_path_factory.mktemp("bert") / "preset"
    keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=8,
    ).save_to_preset(str(folder))
    return str(folder)


def test_pretrained_backbone_at_its_rate_the_rest_from_scratch(local_bert):
    model_config = ModelConfig(**dict(tiny_config_kwargs(), text_preset=local_bert),
                               modalities=("text", "audio"))
    model = build_classifier(model_config)
    backbone = [w.path for w in pretrained_weights(model, model_config)]
    assert backbone and all("text_latent" not in p and "emotion" not in p for p in backbone)

    optimizer = make_optimizer(model, TrainConfig(model=model_config))
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
    assert set(optimizer.multipliers) == set(backbone)
    assert all(v == pytest.approx(0.1) for v in optimizer.multipliers.values())
    # --lr: one rate for every part.
    one = make_optimizer(model, TrainConfig(model=model_config, learning_rate=3e-4))
    assert float(one.learning_rate) == pytest.approx(3e-4) and not one.multipliers
    # bert_tiny is random: trained from scratch like the rest.
    tiny = ModelConfig(**tiny_config_kwargs(), modalities=("text",))
    assert not make_optimizer(build_classifier(tiny), TrainConfig(model=tiny)).multipliers


def test_compiled_model_round_trips(tmp_path):
    config = ModelConfig(**tiny_config_kwargs(), modalities=("audio",))
    model = build_classifier(config)
    model.compile(optimizer=PartwiseAdamW(1e-3, multipliers={"x/kernel": 0.5},
                                          decoupled_weight_decay=0.01), loss="mse")
    inputs = random_inputs(config, batch=4)
    model.fit(inputs, {"emotion": np.zeros((4, 7)), "sentiment": np.zeros((4, 3))}, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored.optimizer, PartwiseAdamW)
    assert restored.optimizer.multipliers == {"x/kernel": 0.5}


def test_min_learning_rate_is_checked_against_every_rate():
    with pytest.raises(ValueError, match="--min-learning-rate"):
        TrainConfig(min_learning_rate=5e-4)  # above the pretrained rate
    TrainConfig(min_learning_rate=5e-4, learning_rate=1e-3)  # one rate: fine


def test_warmup_scales_the_first_steps():
    """Step k of a warm-up of n steps is Adam's step at k/n of the rate."""
    rng = np.random.default_rng(1)
    start = rng.normal(size=(3, 2)).astype("float32")
    gradients = [rng.normal(size=(3, 2)).astype("float32") for _ in range(6)]
    warm = keras.Variable(start, name="kernel")
    optimizer = PartwiseAdamW(1e-2, warmup_steps=4)
    reference = keras.Variable(start, name="kernel")
    adam = keras.optimizers.Adam(0.0)
    for step, gradient in enumerate(gradients, 1):
        optimizer.apply_gradients([(gradient, warm)])
        adam.learning_rate.assign(1e-2 * min(step / 4, 1.0))
        adam.apply_gradients([(gradient, reference)])
        np.testing.assert_allclose(np.asarray(warm), np.asarray(reference), rtol=1e-5)


def test_a_pretrained_mpnet_learns_at_the_pretrained_rate():
    tiny_mpnet = str(pathlib.Path(__file__).parent / "data" / "mpnet_tiny")
    config = ModelConfig(**dict(tiny_config_kwargs(), text_preset=tiny_mpnet, text_max_length=16),
                         modalities=("text",))
    model = build_classifier(config)
    mpnet = [layer for layer in model.get_layer("text_encoder").layers
             if isinstance(layer, MPNetBackbone)]
    found = {w.path for w in pretrained_weights(model, config)}
    assert len(mpnet) == 1 and found == {w.path for w in mpnet[0].trainable_weights}


def test_an_embeddings_sparse_gradient_steps_as_keras_adamw():
    """The fused step (``ResourceApplyAdam``) on an embedding's ``IndexedSlices`` gradient,
    and after a freeze, against Keras's own AdamW."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    start = rng.normal(size=(6, 3)).astype("float32")
    embedding, reference = keras.Variable(start, name="embeddings"), keras.Variable(start)
    partwise = PartwiseAdamW(1e-2, decoupled_weight_decay=0.05)
    adamw = keras.optimizers.AdamW(1e-2, weight_decay=0.05)
    for step in range(3):
        rows = tf.constant([step, 4, 4])
        gradient = tf.IndexedSlices(tf.constant(rng.normal(size=(3, 3)), tf.float32), rows,
                                    tf.constant([6, 3]))  # fmt: skip
        partwise.apply_gradients([(gradient, embedding)])
        adamw.apply_gradients([(tf.convert_to_tensor(gradient), reference)])
    np.testing.assert_allclose(np.asarray(embedding), np.asarray(reference), rtol=1e-5)
    partwise.freeze([embedding])
    frozen = np.asarray(embedding).copy()
    partwise.apply_gradients([(tf.ones((6, 3)), embedding)])
    np.testing.assert_array_equal(np.asarray(embedding), frozen)
