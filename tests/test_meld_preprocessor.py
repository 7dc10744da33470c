"""MeldPreprocessor on a small in-memory split with the dataset's features."""

import json

import numpy as np
import pytest
import tensorflow as tf
from meld_split import (
    STORED_FRAMES,
    STORED_SIZE,
    first_batch,
    make_config,
    make_preprocessor,
    make_split,
)

from meld_tf.batching import finish_inputs
from meld_tf.data.audio_features import num_audio_frames
from meld_tf.preprocessing import MeldPreprocessor, media_of


def test_inputs_shapes_types_and_masks():
    (inputs, labels), _ = first_batch(make_config())
    config = make_config().model
    assert set(inputs) == {
        "text_token_ids", "text_padding_mask", "text_mask",
        "audio_features", "audio_mask", "video_frames", "video_mask",
    }  # fmt: skip
    assert inputs["text_token_ids"].shape == (3, 12) and inputs["text_token_ids"].dtype == tf.int32
    assert inputs["audio_features"].shape == (3, num_audio_frames(config), 8)
    assert inputs["video_frames"].shape == (3, 2, 8, 8, 3)
    assert inputs["video_frames"].dtype == tf.float32
    frames = inputs["video_frames"].numpy()
    assert 0.0 <= frames.min() and frames.max() <= 1.0
    # face_frames by default (255 - frames): the red channel of the last picked frame.
    assert frames[0, 1, 0, 0, 0] == pytest.approx((255 - 150) / 255, abs=2 / 255)
    np.testing.assert_array_equal(inputs["text_mask"], [1, 1, 1])
    np.testing.assert_array_equal(inputs["audio_mask"], [1, 1, 0])
    np.testing.assert_array_equal(inputs["video_mask"], [1, 0, 1])
    np.testing.assert_array_equal(labels["emotion"].numpy().argmax(-1), [4, 6, 3])
    np.testing.assert_array_equal(labels["sentiment"].numpy().sum(-1), [1, 1, 1])


def test_video_source_frames_and_text_only():
    (inputs, _), _ = first_batch(make_config().replace(video_source="frames"))
    assert inputs["video_frames"].numpy()[0, 1, 0, 0, 0] == pytest.approx(150 / 255, abs=2 / 255)
    (inputs, _), _ = first_batch(make_config().replace(modalities=("text",)))
    assert set(inputs) == {"text_token_ids", "text_padding_mask", "text_mask"}


def test_text_dataset_refuses_media_modalities():
    split = make_split().map(lambda ex: {k: ex[k] for k in ex if k not in ("frames",)})
    with pytest.raises(ValueError, match="text only"):
        MeldPreprocessor.from_config(make_config(), media_of(split))


def test_an_example_without_labels_gives_the_same_inputs_alone():
    """Prediction needs no placeholder labels: the inputs of an example are its inputs."""
    config = make_config(context=1)
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    example = next(iter(split))
    context = tf.constant("Ross: hi there")
    inputs, labels = preprocessor(example, context)
    unlabelled = {k: v for k, v in example.items() if k not in ("emotion", "sentiment")}
    alone = preprocessor(unlabelled, context)
    assert isinstance(alone, dict) and set(alone) == set(inputs)
    for name, value in inputs.items():
        np.testing.assert_array_equal(alone[name], value)
    np.testing.assert_array_equal(labels["emotion"].numpy().argmax(), 4)
    batch = finish_inputs({k: v[None] for k, v in alone.items()}, config)
    assert batch["video_frames"].dtype == tf.float32


def test_save_and_load_rebuild_the_same_inputs(tmp_path):
    config = make_config(context=1)
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    preprocessor.save(tmp_path)
    restored = MeldPreprocessor.load(tmp_path, config)
    assert restored.media == {"num_frames": STORED_FRAMES, "frame_size": STORED_SIZE,
                              "sample_rate": 16000}  # fmt: skip
    for a, b in zip(preprocessor.preprocess(split), restored.preprocess(split)):
        for name in a[0]:
            np.testing.assert_array_equal(a[0][name], b[0][name])


def test_loads_a_folder_in_the_run_folder_format(tmp_path):
    """The files a run folder's ``preprocessor/`` has held since runs were first saved."""
    config = make_config()
    split = make_split()
    words = make_preprocessor(config, split).tokenizer.vocabulary
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "preprocessor.json").write_text(json.dumps(
        {"media": {"num_frames": 4, "frame_size": 16, "sample_rate": 16000},
         "class_weights": [1.0, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0]}))  # fmt: skip
    (tmp_path / "tokenizer" / "text_tokenizer.json").write_text(json.dumps(
        {"encoder": "bilstm", "max_length": 12, "vocab_size": 50}))  # fmt: skip
    (tmp_path / "tokenizer" / "vocabulary.txt").write_text("".join(f"{w}\n" for w in words))
    restored = MeldPreprocessor.load(tmp_path, config)
    assert restored.class_weights == [1.0, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert restored.tokenizer.vocabulary == words
    fresh = make_preprocessor(config, split)
    for a, b in zip(fresh.preprocess(split), restored.preprocess(split)):
        for name in a[0]:
            np.testing.assert_array_equal(a[0][name], b[0][name])
    again = tmp_path / "again"
    restored.save(again)  # Written back in the same format.
    for name in ("preprocessor.json", "tokenizer/text_tokenizer.json"):
        assert json.loads((again / name).read_text()) == json.loads((tmp_path / name).read_text())
    vocabulary = "tokenizer/vocabulary.txt"
    assert (again / vocabulary).read_text() == (tmp_path / vocabulary).read_text()
