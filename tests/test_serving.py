"""The serving function and the exported SavedModel: the same answers as the training
pipeline and as ``meld_tf.predict``, loaded in a process without meld_tf or keras-hub."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from test_cli import TINY

from meld_tf import export, predict, train
from meld_tf.batching import finish_inputs
from meld_tf.data.sample import write_clip
from meld_tf.serving import Serving
from meld_tf.task import MeldClassifier

# Loads the SavedModel where meld_tf and keras-hub cannot be imported; prints its outputs.
LOAD_ALONE = r"""
import json, sys
for name in ("meld_tf", "keras_hub", "keras_nlp"):
    sys.modules[name] = None  # import fails, as when the package is not installed
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the tokenizer's ops)

served = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2], allow_pickle=True)
outputs = served.serve(**{name: tf.constant(inputs[name]) for name in inputs.files})
print(json.dumps({name: value.numpy().tolist() for name, value in outputs.items()}))
"""


def train_run(data_dir, out, *flags):
    return train.main([*TINY, "--data-dir", str(data_dir), "--out", str(out), *flags])


@pytest.fixture(scope="module")
def multimodal_run(sample_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("serving") / "tav"
    return train_run(sample_data_dir, out, "--modalities", "text", "audio", "video",
                     "--context", "1", "--future-context", "1",
                     "--text-template", "{speaker}: {text}")  # fmt: skip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 48, 48, 3), dtype=np.uint8)
    audio = (0.3 * np.sin(np.arange(20000) / 10)).astype(np.float32)
    write_clip(folder / "full.mp4", frames=frames, audio=audio)
    write_clip(folder / "silent.mp4", frames=frames[:5])
    return [str(folder / "full.mp4"), str(folder / "silent.mp4")]


def inputs_of(run, clips, texts):
    """Examples and contexts of predict's inputs (one dialogue), and the run."""
    model = MeldClassifier.from_run(run)
    config, preprocessor = model.config, model.preprocessor
    items = predict.read_inputs(clips, texts, None)
    for item, speaker in zip(items, ["Ross", "Rachel", "Joey", "Monica"]):
        item["dialogue"], item["speaker"] = "d", speaker
    contexts = predict.contexts_of(items, config.context, config.future_context)
    examples = [predict.make_example(item, config.model.modalities, preprocessor.media)[0]
                for item in items]  # fmt: skip
    return config, model, preprocessor, items, examples, [contexts[i["index"]] for i in items]


def test_serving_gives_the_training_pipelines_outputs(multimodal_run, clips):
    """Serving (tokenise, features, frames, model in one tf.function) against the data
    pipeline the model was trained with (MeldPreprocessor per example, finish_inputs),
    which takes examples without labels."""
    config, model, preprocessor, _, examples, contexts = inputs_of(
        multimodal_run, [*clips, clips[0]], ["Oh my God!", "", "What?"])
    examples[2] = {**examples[2], "has_video": False}  # Video masked, audio kept.
    assert contexts[0] == "Next: Joey: What?"  # The second input has no text.
    assert contexts[2] == "Ross: Oh my God!"
    pipeline = [preprocessor(e, tf.constant(c)) for e, c in zip(examples, contexts)]
    batch = {name: tf.stack([p[name] for p in pipeline]) for name in pipeline[0]}
    expected = model.predict_on_batch(finish_inputs(batch, config))
    served = Serving(config, model, preprocessor)(
        **predict.serving_inputs(examples, contexts, config))
    assert set(served) == {"emotion", "sentiment", "fusion_weights"}
    serving = Serving(config, model, preprocessor)
    inputs = predict.serving_inputs(examples, contexts, config)
    ids = serving.model_inputs(inputs)["text_token_ids"]
    unnamed = serving.model_inputs({**inputs, "speaker": np.array(["", "", ""], object)})
    assert not np.array_equal(ids, unnamed["text_token_ids"])  # The speaker is read.
    for head in ("emotion", "sentiment"):
        np.testing.assert_allclose(served[head], expected[head], atol=1e-5)
    weights = np.asarray(served["fusion_weights"])
    assert weights[1, :2].max() < 1e-6 and weights[2, 2] < 1e-6  # masked: no weight


def test_exported_model_answers_as_predict_without_meld_tf(multimodal_run, clips, tmp_path):
    out = tmp_path / "exported"
    assert export.main([str(multimodal_run), "--out", str(out)]) == 0
    texts = ["Oh my God!", "", "Fine."]
    config, _, _, items, examples, contexts = inputs_of(multimodal_run, clips + [clips[0]], texts)
    np.savez(tmp_path / "inputs.npz", **predict.serving_inputs(examples, contexts, config))
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_ALONE, str(out), str(tmp_path / "inputs.npz")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    outputs = json.loads(loaded.stdout.strip().splitlines()[-1])
    answers = predict.predict(str(multimodal_run), items)
    for i, answer in enumerate(answers):
        for head, classes in predict.HEADS.items():
            expected = [answer[head]["probabilities"][c] for c in classes]
            np.testing.assert_allclose(outputs[head][i], expected, atol=1e-5)
        expected = [answer["fusion_weights"][m] for m in config.model.modalities]
        np.testing.assert_allclose(outputs["fusion_weights"][i], expected, atol=1e-5)


def test_exported_bert_text_model_loads_without_keras_hub(sample_data_dir, tmp_path):
    run = train_run(sample_data_dir, tmp_path / "bert", "--modalities", "text",
                    "--text-encoder", "bert", "--text-preset", "bert_tiny")  # fmt: skip
    assert export.main([str(run), "--out", str(tmp_path / "exported")]) == 0
    texts = np.array(["Oh my God!", "I am so happy for you, really!", ""], object)
    np.savez(tmp_path / "inputs.npz", text=texts)
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_ALONE, str(tmp_path / "exported"),
         str(tmp_path / "inputs.npz")], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    outputs = json.loads(loaded.stdout.strip().splitlines()[-1])
    answers = predict.predict(str(run), predict.read_inputs([], list(texts[:2]), None))
    for i, answer in enumerate(answers):
        expected = [answer["emotion"]["probabilities"][c] for c in predict.HEADS["emotion"]]
        np.testing.assert_allclose(outputs["emotion"][i], expected, atol=1e-5)


def test_export_refuses_what_it_cannot_write(multimodal_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(tmp_path), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    assert "not a finished run folder" in capsys.readouterr().err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    with pytest.raises(SystemExit):
        export.main([str(multimodal_run), "--out", str(tmp_path / "used")])
    assert "not an empty folder" in capsys.readouterr().err


def test_classifier_predicts_raw_inputs_and_masks_what_is_left_out(multimodal_run):
    """``MeldClassifier.predict`` of texts alone: the serving function's answers with the
    audio and video masked by hand (no samples, no frames) and no speaker, in batches of
    any size."""
    model = MeldClassifier.from_run(multimodal_run)
    texts = np.array(["Oh my God!", "Fine.", "What?"], object)
    contexts = np.array(["", "Ross: Hi.", "Monica: Fine."], object)
    answers = model.predict({"text": texts, "context": contexts}, batch_size=2)
    side = model.config.model.frame_size
    masked = Serving(model.config, model, model.preprocessor)(
        text=texts, context=contexts, speaker=np.array(["", "", ""], object),
        waveform=np.zeros((3, 7), np.float32), waveform_length=np.zeros(3, np.int32),
        frames=np.full((3, 2, side, side, 3), 99, np.uint8), num_frames=np.zeros(3, np.int32),
    )  # fmt: skip
    assert set(answers) == {"emotion", "sentiment", "fusion_weights"}
    for name, value in masked.items():
        np.testing.assert_allclose(answers[name], value, atol=1e-5)
    assert answers["fusion_weights"][:, 1:].max() < 1e-6  # Only the text has weight.
    with pytest.raises(ValueError, match="Unknown raw inputs"):
        model.predict({"text": texts, "speakers": texts})
