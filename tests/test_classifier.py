import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import random_inputs, run_model_saving_test, tiny_config_kwargs

from meld_tf import build_classifier
from meld_tf.config import ModelConfig
from meld_tf.models import attention_weights_model

# Every modality subset; each fusion on several subsets, all three on the full set.
CASES = [
    (("text",), "attention", {}),
    (("audio",), "concat", {}),
    (("video",), "late", {}),
    (("text", "audio"), "attention", {"modality_dropout": 0.3}),
    (("text", "video"), "concat", {"text_encoder": "bilstm"}),
    (("audio", "video"), "late", {"video_encoder": "conv3d"}),
    (("text", "audio", "video"), "attention", {}),
    (("text", "audio", "video"), "concat", {"video_encoder": "conv3d"}),
    (("text", "audio", "video"), "late", {"text_encoder": "bilstm"}),
]


def _config(modalities, fusion="attention", **kwargs):
    return ModelConfig(
        **{**tiny_config_kwargs(), "modalities": modalities, "fusion": fusion, **kwargs}
    )


@pytest.mark.parametrize(
    "modalities, fusion, extra", CASES, ids=["-".join(c[0]) + f"-{c[1]}" for c in CASES]
)
def test_classifier(modalities, fusion, extra, tmp_path):
    config = _config(modalities, fusion, **extra)
    model = build_classifier(config)
    inputs = random_inputs(config, batch=3)
    assert sorted(model.input) == sorted(inputs)
    outputs = model(inputs)
    assert outputs["emotion"].shape == (3, 7) and outputs["sentiment"].shape == (3, 3)
    for probabilities in outputs.values():
        np.testing.assert_allclose(np.asarray(probabilities).sum(axis=1), 1.0, rtol=1e-5)
    restored = run_model_saving_test(model, inputs, tmp_path)

    if len(modalities) > 1:
        # A modality whose mask is 0 cannot change the prediction.
        absent = modalities[0]
        hidden = dict(inputs, **{f"{absent}_mask": np.zeros(3, "float32")})
        changed = dict(hidden)
        for name, value in inputs.items():
            if name.startswith(absent) and name != f"{absent}_mask":
                # Other (valid) token ids and padding, other features: reverse the batch.
                changed[name] = value[::-1] + (3.0 if value.dtype == np.float32 else 0)
        first, second = restored(hidden), restored(changed)
        for head in ("emotion", "sentiment"):
            np.testing.assert_allclose(np.asarray(first[head]), np.asarray(second[head]), atol=1e-6)


@pytest.mark.parametrize("fusion", ["attention", "late"])
def test_auxiliary_heads_read_only_their_encoder(fusion):
    config = _config(("text", "audio"), fusion)
    model = build_classifier(config)
    assert sorted(model.output) == ["audio_emotion", "emotion", "sentiment", "text_emotion"]
    inputs = random_inputs(config, batch=3)
    outputs = model(inputs)
    changed = dict(inputs, audio_features=inputs["audio_features"][::-1] + 3.0)
    after = model(changed)
    np.testing.assert_allclose(np.asarray(outputs["text_emotion"]),
                               np.asarray(after["text_emotion"]), atol=1e-6)  # fmt: skip
    assert not np.allclose(np.asarray(outputs["audio_emotion"]), np.asarray(after["audio_emotion"]))
    # One modality, or a weight of 0: no auxiliary heads.
    assert sorted(build_classifier(_config(("audio",))).output) == ["emotion", "sentiment"]
    no_heads = build_classifier(_config(("text", "audio"), auxiliary_loss=0.0))
    assert sorted(no_heads.output) == ["emotion", "sentiment"]


def test_attention_weights_model():
    config = _config(("text", "audio", "video"))
    model = build_classifier(config)
    inputs = random_inputs(config, batch=3)
    inputs["audio_mask"] = np.array([1, 0, 0], "float32")
    inputs["video_mask"] = np.array([1, 1, 0], "float32")
    weights = np.asarray(attention_weights_model(model)(inputs))
    assert weights.shape == (3, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(weights[:, 1] == 0, [False, True, True])
    np.testing.assert_allclose(weights[2], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("fusion", ["concat", "late"])
def test_attention_weights_need_attention_fusion(fusion):
    model = build_classifier(_config(("audio",), fusion))
    with pytest.raises(ValueError, match="fusion='attention'"):
        attention_weights_model(model)


def test_modality_dropout_layer_only_when_asked():
    with_dropout = build_classifier(_config(("audio", "video"), modality_dropout=0.2))
    without = build_classifier(_config(("audio", "video")))
    assert with_dropout.get_layer("modality_dropout").rate == 0.2
    assert "modality_dropout" not in [layer.name for layer in without.layers]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"modalities": ()}, r"empty.*'text', 'audio', 'video'"),
        ({"modalities": ("smell",)}, r"'smell'.*'text', 'audio', 'video'"),
        ({"text_encoder": "gpt"}, r"'gpt'.*'bert', 'bilstm'"),
        ({"video_encoder": "vit"}, r"'vit'.*'resnet18', 'conv3d'"),
        ({"fusion": "sum"}, r"'sum'.*'attention', 'concat', 'late'"),
        ({"text_preset": "/no/such/bert"}, r"'/no/such/bert'.*'minilm_l6', 'bert_tiny'"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_classifier(ModelConfig(**{"modalities": ("text",), **kwargs}))


def test_fit_lowers_the_loss():
    """A real fit on tiny learnable data: the class is coded in the audio features."""
    keras.utils.set_random_seed(0)
    config = _config(("audio",), dropout=0.0)
    rng = np.random.default_rng(0)
    inputs = random_inputs(config, batch=64, num_audio_frames=4)
    emotion = rng.integers(0, 7, 64)
    inputs["audio_features"][:, :, :7] += 3.0 * np.eye(7, dtype="float32")[emotion][:, None, :]
    labels = {"emotion": emotion, "sentiment": emotion % 3}
    model = build_classifier(config)
    model.compile(
        keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    before = model.evaluate(inputs, labels, verbose=0, return_dict=True)["loss"]
    model.fit(inputs, labels, batch_size=16, epochs=40, verbose=0)
    after = model.evaluate(inputs, labels, verbose=0, return_dict=True)["loss"]
    assert after < 0.5 * before, (before, after)


def test_import_meld_tf_registers_layers_for_loading(tmp_path):
    config = _config(("audio",))
    path = str(tmp_path / "model.keras")
    build_classifier(config).save(path)
    code = f"import keras, meld_tf; keras.models.load_model({path!r}, safe_mode=True)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
