"""MeldPreprocessor on a small in-memory split with the dataset's features."""

import numpy as np
import pytest
import tensorflow as tf

from meld_tf.config import ModelConfig
from meld_tf.data.audio_features import num_audio_frames
from meld_tf.preprocessor import (
    MeldPreprocessor,
    balanced_class_weights,
    dialogue_contexts,
    media_of,
    split_metadata,
)
from meld_tf.train_config import TrainConfig

STORED_FRAMES, STORED_SIZE = 4, 16
ROWS = [  # dialogue, utterance, speaker, text, emotion, sentiment, has_audio, has_video
    (0, 0, "Ross", "hi there", 4, 1, True, True),
    (0, 1, "Rachel", "oh my god", 6, 2, True, False),
    (1, 0, "Joey", "how you doing", 3, 2, False, True),
    (0, 2, "Monica", "stop it", 0, 0, True, True),
]


def make_split(rows=ROWS):
    """A tf.data split of examples with the features of ARCHITECTURE.md."""

    def examples():
        for d, u, speaker, text, emotion, sentiment, has_audio, has_video in rows:
            frames = np.full((STORED_FRAMES, STORED_SIZE, STORED_SIZE, 3), 10 * (u + 1), np.uint8)
            frames[:, :, :, 0] = np.arange(STORED_FRAMES)[:, None, None] * 50
            yield {
                "dialogue_id": d,
                "utterance_id": u,
                "speaker": speaker,
                "text": text,
                "emotion": emotion,
                "sentiment": sentiment,
                "audio": np.full(1600 * (u + 1) if has_audio else 0, 1000, np.int16),
                "frames": frames if has_video else np.zeros_like(frames),
                "face_frames": 255 - frames if has_video else np.zeros_like(frames),
                "has_audio": has_audio,
                "has_video": has_video,
            }

    video = tf.TensorSpec((STORED_FRAMES, STORED_SIZE, STORED_SIZE, 3), tf.uint8)
    signature = {
        "dialogue_id": tf.TensorSpec((), tf.int32),
        "utterance_id": tf.TensorSpec((), tf.int32),
        "speaker": tf.TensorSpec((), tf.string),
        "text": tf.TensorSpec((), tf.string),
        "emotion": tf.TensorSpec((), tf.int64),
        "sentiment": tf.TensorSpec((), tf.int64),
        "audio": tf.TensorSpec((None,), tf.int16),
        "frames": video,
        "face_frames": video,
        "has_audio": tf.TensorSpec((), tf.bool),
        "has_video": tf.TensorSpec((), tf.bool),
    }
    return tf.data.Dataset.from_generator(examples, output_signature=signature)


def make_config(**changes):
    model = ModelConfig(
        modalities=("text", "audio", "video"),
        text_encoder="bilstm",
        text_max_length=12,
        text_vocab_size=50,
        audio_seconds=0.5,
        num_mel_bins=8,
        num_frames=2,
        frame_size=8,
    )
    changes = {"bucket_by_length": False, **changes}  # fixed widths unless a test asks
    return TrainConfig(model=model, batch_size=3, **changes)


def make_preprocessor(config, split):
    preprocessor = MeldPreprocessor.from_config(config, media_of(split))
    preprocessor.adapt([text for _, _, _, text in split_metadata(split)])
    return preprocessor


def first_batch(config, training=False):
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    data = preprocessor.batches(preprocessor.preprocess(split), training=training)
    return next(iter(data)), preprocessor


def test_dialogue_contexts_most_recent_first_and_per_dialogue():
    rows = [(0, 1, "B", "two"), (0, 0, "A", "one"), (1, 0, "C", "other"), (0, 2, "C", "three")]
    contexts = dialogue_contexts(rows, num_turns=2)
    assert contexts == {"0/0": "", "0/1": "A: one", "0/2": "B: two A: one", "1/0": ""}
    assert dialogue_contexts(rows, num_turns=1)["0/2"] == "B: two"


def test_balanced_class_weights():
    weights = balanced_class_weights([6, 2, 0, 4])
    np.testing.assert_allclose(weights, [12 / 24, 12 / 8, 0.0, 12 / 16])


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


def test_context_is_the_second_segment():
    (plain, _), _ = first_batch(make_config(context=0).replace(modalities=("text",)))
    (with_context, _), _ = first_batch(make_config(context=2).replace(modalities=("text",)))
    plain_length = plain["text_padding_mask"].numpy().sum(-1)
    context_length = with_context["text_padding_mask"].numpy().sum(-1)
    # Utterance 0/0 has no context (+ separator only); 0/1 has "ross hi there" (+4 tokens).
    assert context_length[0] == plain_length[0] + 1
    assert context_length[1] == plain_length[1] + 4


def test_training_batches_carry_emotion_weights():
    config = make_config(class_weights="balanced")
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    preprocessor.class_weights = balanced_class_weights([1, 0, 0, 1, 1, 0, 1]).tolist()
    data = preprocessor.batches(preprocessor.preprocess(split), training=True)
    inputs, labels, weights = next(iter(data))
    expected = np.array(preprocessor.class_weights)[labels["emotion"].numpy().argmax(-1)]
    np.testing.assert_allclose(weights["emotion"], expected)
    np.testing.assert_array_equal(weights["sentiment"], np.ones(3))


def test_auxiliary_heads_get_the_emotion_label_where_their_modality_is_present():
    config = make_config(class_weights="balanced")
    assert config.model.auxiliary_heads == ("text_emotion", "audio_emotion", "video_emotion")
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    preprocessor.class_weights = [0.5, 1, 1, 2, 3, 1, 4]
    inputs, labels, weights = next(iter(preprocessor.batches(preprocessor.preprocess(split),
                                                             training=True)))  # fmt: skip
    emotion = labels["emotion"].numpy().argmax(-1)
    class_weight = np.array(preprocessor.class_weights)[emotion]
    for modality in ("text", "audio", "video"):
        np.testing.assert_array_equal(labels[f"{modality}_emotion"], labels["emotion"])
        # ROWS: audio absent for Joey (emotion 3), video for Rachel (emotion 6).
        present = [e not in {"audio": (3,), "video": (6,)}.get(modality, ()) for e in emotion]
        np.testing.assert_allclose(weights[f"{modality}_emotion"], class_weight * present)
    # Without class weights the main heads weigh 1; evaluation batches carry labels only.
    preprocessor.class_weights = None
    _, _, weights = next(iter(preprocessor.batches(preprocessor.preprocess(split), training=True)))
    np.testing.assert_array_equal(weights["emotion"], np.ones(3))
    (_, labels), _ = first_batch(config)
    assert sorted(labels) == ["audio_emotion", "emotion", "sentiment", "text_emotion",
                              "video_emotion"]  # fmt: skip
    (_, labels), _ = first_batch(config.replace(auxiliary_loss=0.0))
    assert sorted(labels) == ["emotion", "sentiment"]


def test_shuffle_is_repeatable_with_the_seed():
    def order(seed):
        split = make_split()
        preprocessor = make_preprocessor(make_config(seed=seed), split)
        data = preprocessor.batches(preprocessor.preprocess(split), training=True).unbatch()
        return [int(y["emotion"].numpy().argmax()) for _, y, *_ in data]

    assert order(3) == order(3)
    assert sorted(order(3)) == [0, 3, 4, 6]


def _length_split(words):
    rows = [(0, u, "Ross", " ".join(["word"] * n), u % 7, u % 3, True, True)
            for u, n in enumerate(words)]  # fmt: skip
    config = make_config(bucket_by_length=True, context=0).replace(
        modalities=("text",), text_max_length=20
    )
    split = make_split(rows)
    preprocessor = make_preprocessor(config, split)
    return preprocessor, preprocessor.preprocess(split)


def _batch_lengths(data):
    """Per batch: its width and the text length of each example."""
    return [(int(x["text_token_ids"].shape[1]), x["text_padding_mask"].numpy().sum(-1).tolist())
            for x, *_ in data]  # fmt: skip


WORDS = [2, 14, 3, 12, 1, 16, 4, 15]  # Tokens per text: short and long ones mixed.


@pytest.mark.parametrize("training", [True, False])
def test_bucket_by_length_keeps_every_example_and_trims_padding(training):
    preprocessor, split = _length_split(WORDS)
    data = preprocessor.batches(split, training=training)
    batches = _batch_lengths(data)
    assert len(batches) == len(data) == 3  # ceil(8 / 3), as plain batching
    for width, lengths in batches:
        assert width == max(lengths)  # Trimmed to the longest text, no more.
    seen = sorted(n for _, lengths in batches for n in lengths)
    assert seen == sorted(WORDS)
    if training:  # One window: sorted by length, cut into batches of 3, batches shuffled.
        lengths = sorted(WORDS, reverse=True)
        chunks = sorted(sorted(lengths[i:i + 3]) for i in range(0, len(lengths), 3))
        assert sorted(sorted(b) for _, b in batches) == chunks
    else:  # Evaluation keeps the split's order (predictions are matched to rows by it).
        assert [n for _, b in batches for n in b] == WORDS


def test_length_groups_are_windows_of_the_shuffled_split(monkeypatch):
    """With windows of one batch, grouping changes nothing but each batch's width: the
    batches hold the examples of plain shuffled batching, in the same order."""
    import meld_tf.preprocessor

    preprocessor, split = _length_split(WORDS * 3)
    grouped = _batch_lengths(preprocessor.batches(split, training=True))
    monkeypatch.setattr(meld_tf.preprocessor, "GROUP_BATCHES", 1)
    one = _batch_lengths(preprocessor.batches(split, training=True))
    preprocessor.config = preprocessor.config.replace(bucket_by_length=False)
    fixed = _batch_lengths(preprocessor.batches(split, training=True))
    assert [sorted(b) for _, b in one] == [sorted(b) for _, b in fixed]
    assert all(width == 20 for width, _ in fixed)
    # One window of 50 batches: each batch holds neighbours in length.
    assert sum(max(b) - min(b) for _, b in grouped) < sum(max(b) - min(b) for _, b in one)


def test_length_grouped_order_depends_on_seed_and_epoch_only():
    preprocessor, split = _length_split(WORDS * 3)
    epoch = tf.Variable(0, dtype=tf.int64)

    def order(seed, number):
        preprocessor.config = preprocessor.config.replace(seed=seed)
        epoch.assign(number)
        data = preprocessor.batches(split, training=True, epoch=epoch)
        return [tuple(b) for _, b in _batch_lengths(data)]

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)


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


def test_epoch_order_depends_on_seed_and_epoch_only_even_under_global_seed_0():
    """--seed 0 sets TensorFlow's global seed to 0, which once broke the epoch shuffle."""
    import keras

    from meld_tf.preprocessor import epoch_shuffle

    orders = []
    for global_seed in (0, 42):
        keras.utils.set_random_seed(global_seed)
        epoch = tf.Variable(0, dtype=tf.int64)
        data = epoch_shuffle(tf.data.Dataset.range(20), 100, 7, epoch)
        first = list(data.as_numpy_iterator())
        epoch.assign(1)
        orders.append((first, list(data.as_numpy_iterator())))
    assert orders[0] == orders[1]  # the global seed plays no part
    first, second = orders[0]
    assert sorted(first) == list(range(20)) and first != second
