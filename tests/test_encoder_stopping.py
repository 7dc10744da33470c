"""Each encoder stopped at its own best epoch: `PartwiseAdamW.freeze` and
`meld_tf.encoder_stopping.EncoderEarlyStopping`."""

import keras
import numpy as np
from helpers import random_inputs, tiny_config_kwargs

from meld_tf import MeldClassifier
from meld_tf.callbacks import make_callbacks
from meld_tf.config import ModelConfig
from meld_tf.encoder_stopping import EncoderEarlyStopping
from meld_tf.optimizer import PartwiseAdamW
from meld_tf.train_config import TrainConfig

MODALITIES = ("text", "audio")


def _trained_model():
    config = TrainConfig(model=ModelConfig(
        **{**tiny_config_kwargs(), "modalities": MODALITIES, "text_encoder": "bilstm"}),
        weight_decay=0.01, warmup_steps=0)  # fmt: skip
    model = MeldClassifier.for_config(config)
    model.compile()
    inputs = random_inputs(config.model, batch=4)
    rng = np.random.default_rng(0)
    emotion = np.eye(7)[rng.integers(0, 7, 4)]
    labels = {"emotion": emotion, "sentiment": np.eye(3)[rng.integers(0, 3, 4)],
              "text_emotion": emotion, "audio_emotion": emotion}  # fmt: skip
    model.fit(inputs, labels, epochs=1, verbose=0)
    return model, (inputs, labels)


def _values(model, modality):
    layers = (model.get_layer(f"{modality}_encoder"), model.get_layer(f"{modality}_emotion"))
    return [keras.ops.convert_to_numpy(w).copy() for layer in layers for w in layer.weights]


def _nudge(model, modality):
    """Stands for an epoch of training: every weight of the encoder moves."""
    for layer in (model.get_layer(f"{modality}_encoder"), model.get_layer(f"{modality}_emotion")):
        for weight in layer.weights:
            weight.assign(weight + 0.5)


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_freeze_stops_adam_and_weight_decay_for_those_weights_only():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="a"),
                              keras.layers.Dense(2, name="b")])  # fmt: skip
    model.compile(PartwiseAdamW(1e-2, decoupled_weight_decay=0.1), "mse")
    x, y = np.ones((8, 3)), np.zeros((8, 2))
    model.fit(x, y, verbose=0)  # builds the optimizer, fills Adam's moments
    model.optimizer.freeze(model.get_layer("a").trainable_weights)
    before = [w.numpy().copy() for w in model.weights]
    model.fit(x, y, epochs=2, verbose=0)
    after = [w.numpy() for w in model.weights]
    np.testing.assert_array_equal(after[0], before[0])  # a: kernel
    np.testing.assert_array_equal(after[1], before[1])  # a: bias
    assert not np.allclose(after[2], before[2])  # b still learns


def test_an_encoder_returns_to_its_best_epoch_and_stops_learning(tmp_path):
    model, (inputs, labels) = _trained_model()
    early_stopping = keras.callbacks.EarlyStopping(patience=3)
    callback = EncoderEarlyStopping(MODALITIES, 2, str(tmp_path), early_stopping)
    callback.set_model(model)
    text_losses, audio_losses = [1.0, 0.9, 0.95, 0.97], [1.0, 0.9, 0.8, 0.7]
    snapshots = []
    for epoch, (text, audio) in enumerate(zip(text_losses, audio_losses)):
        early_stopping.wait = 5
        snapshots.append(_values(model, "text"))
        callback.on_epoch_end(epoch, {"val_text_emotion_loss": text,
                                      "val_audio_emotion_loss": audio})  # fmt: skip
        assert early_stopping.wait == 0  # audio improves every epoch: the run waits
        if epoch < 3:
            _nudge(model, "text")
    assert callback.frozen == ["text"] and callback.best_epoch == {"text": 1, "audio": 3}
    assert _same(_values(model, "text"), snapshots[1])  # epoch 1's weights (loss 0.9)
    audio = _values(model, "audio")
    model.fit(inputs, labels, epochs=2, verbose=0)
    assert _same(_values(model, "text"), snapshots[1])  # frozen
    assert not _same(_values(model, "audio"), audio)  # learning


def test_a_resumed_run_restores_the_best_weights_from_its_folder(tmp_path):
    model, _ = _trained_model()
    first = EncoderEarlyStopping(MODALITIES, 1, str(tmp_path))
    first.set_model(model)
    best = _values(model, "audio")
    first.on_epoch_end(0, {"val_text_emotion_loss": 1.0, "val_audio_emotion_loss": 1.0})
    _nudge(model, "audio")
    # The run stops here and resumes: TrainingState gives the counters back, not the
    # weights kept in memory.
    resumed = EncoderEarlyStopping(MODALITIES, 1, str(tmp_path))
    for name in ("best", "best_epoch", "wait", "frozen"):
        setattr(resumed, name, getattr(first, name))
    resumed.set_model(model)
    resumed.on_epoch_end(1, {"val_text_emotion_loss": 0.5, "val_audio_emotion_loss": 1.1})
    assert resumed.frozen == ["audio"] and _same(_values(model, "audio"), best)


def test_encoders_stop_on_their_own_by_default_where_they_have_heads(tmp_path):
    def encoder_stopping(**model):
        config = TrainConfig(model=ModelConfig(**model))
        return [c for c in make_callbacks(config, str(tmp_path))
                if isinstance(c, EncoderEarlyStopping)]  # fmt: skip

    (fused,) = encoder_stopping(modalities=MODALITIES)
    assert fused.patience == TrainConfig().encoder_patience == 3
    assert fused.modalities == MODALITIES
    assert encoder_stopping(modalities=("text",)) == []  # No auxiliary head to watch.
    assert encoder_stopping(modalities=MODALITIES, auxiliary_loss=0.0) == []
