"""batching.batches on a small preprocessed split: order, length groups, sample weights."""

import numpy as np
import pytest
import tensorflow as tf
from meld_split import first_batch, make_config, make_preprocessor, make_split

import meld_tf.batching
from meld_tf.batching import balanced_class_weights, batches, epoch_shuffle


def test_balanced_class_weights():
    weights = balanced_class_weights([6, 2, 0, 4])
    np.testing.assert_allclose(weights, [12 / 24, 12 / 8, 0.0, 12 / 16])


def test_training_batches_carry_emotion_weights():
    config = make_config(class_weights="balanced")
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    class_weights = balanced_class_weights([1, 0, 0, 1, 1, 0, 1]).tolist()
    data = batches(preprocessor.preprocess(split), config, class_weights, training=True)
    inputs, labels, weights = next(iter(data))
    expected = np.array(class_weights)[labels["emotion"].numpy().argmax(-1)]
    np.testing.assert_allclose(weights["emotion"], expected)
    np.testing.assert_array_equal(weights["sentiment"], np.ones(3))


def test_auxiliary_heads_get_the_emotion_label_where_their_modality_is_present():
    config = make_config(class_weights="balanced")
    assert config.model.auxiliary_heads == ("text_emotion", "audio_emotion", "video_emotion")
    split = make_split()
    preprocessor = make_preprocessor(config, split)
    class_weights = [0.5, 1, 1, 2, 3, 1, 4]
    inputs, labels, weights = next(iter(batches(preprocessor.preprocess(split), config,
                                                class_weights, training=True)))  # fmt: skip
    emotion = labels["emotion"].numpy().argmax(-1)
    class_weight = np.array(class_weights)[emotion]
    for modality in ("text", "audio", "video"):
        np.testing.assert_array_equal(labels[f"{modality}_emotion"], labels["emotion"])
        # ROWS: audio absent for Joey (emotion 3), video for Rachel (emotion 6).
        present = [e not in {"audio": (3,), "video": (6,)}.get(modality, ()) for e in emotion]
        np.testing.assert_allclose(weights[f"{modality}_emotion"], class_weight * present)
    # Without class weights the main heads weigh 1; evaluation batches carry labels only.
    _, _, weights = next(iter(batches(preprocessor.preprocess(split), config, None,
                                      training=True)))  # fmt: skip
    np.testing.assert_array_equal(weights["emotion"], np.ones(3))
    (_, labels), _ = first_batch(config)
    assert sorted(labels) == ["audio_emotion", "emotion", "sentiment", "text_emotion",
                              "video_emotion"]  # fmt: skip
    (_, labels), _ = first_batch(config.replace(auxiliary_loss=0.0))
    assert sorted(labels) == ["emotion", "sentiment"]


def test_shuffle_is_repeatable_with_the_seed():
    def order(seed):
        split = make_split()
        config = make_config(seed=seed)
        preprocessor = make_preprocessor(config, split)
        data = batches(preprocessor.preprocess(split), config, training=True).unbatch()
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
    return config, preprocessor.preprocess(split)


def _batch_lengths(data):
    """Per batch: its width and the text length of each example."""
    return [(int(x["text_token_ids"].shape[1]), x["text_padding_mask"].numpy().sum(-1).tolist())
            for x, *_ in data]  # fmt: skip


WORDS = [2, 14, 3, 12, 1, 16, 4, 15]  # Tokens per text: short and long ones mixed.


@pytest.mark.parametrize("training", [True, False])
def test_bucket_by_length_keeps_every_example_and_trims_padding(training):
    config, split = _length_split(WORDS)
    data = batches(split, config, training=training)
    lengths_of_batches = _batch_lengths(data)
    assert len(lengths_of_batches) == len(data) == 3  # ceil(8 / 3), as plain batching
    for width, lengths in lengths_of_batches:
        assert width == max(lengths)  # Trimmed to the longest text, no more.
    seen = sorted(n for _, lengths in lengths_of_batches for n in lengths)
    assert seen == sorted(WORDS)
    if training:  # One window: sorted by length, cut into batches of 3, batches shuffled.
        lengths = sorted(WORDS, reverse=True)
        chunks = sorted(sorted(lengths[i:i + 3]) for i in range(0, len(lengths), 3))
        assert sorted(sorted(b) for _, b in lengths_of_batches) == chunks
    else:  # Evaluation keeps the split's order (predictions are matched to rows by it).
        assert [n for _, b in lengths_of_batches for n in b] == WORDS


def test_length_groups_are_windows_of_the_shuffled_split(monkeypatch):
    """With windows of one batch, grouping changes nothing but each batch's width: the
    batches hold the examples of plain shuffled batching, in the same order."""
    config, split = _length_split(WORDS * 3)
    grouped = _batch_lengths(batches(split, config, training=True))
    monkeypatch.setattr(meld_tf.batching, "GROUP_BATCHES", 1)
    one = _batch_lengths(batches(split, config, training=True))
    config = config.replace(bucket_by_length=False)
    fixed = _batch_lengths(batches(split, config, training=True))
    assert [sorted(b) for _, b in one] == [sorted(b) for _, b in fixed]
    assert all(width == 20 for width, _ in fixed)
    # One window of 50 batches: each batch holds neighbours in length.
    assert sum(max(b) - min(b) for _, b in grouped) < sum(max(b) - min(b) for _, b in one)


def test_length_grouped_order_depends_on_seed_and_epoch_only():
    config, split = _length_split(WORDS * 3)
    epoch = tf.Variable(0, dtype=tf.int64)

    def order(seed, number):
        epoch.assign(number)
        data = batches(split, config.replace(seed=seed), training=True, epoch=epoch)
        return [tuple(b) for _, b in _batch_lengths(data)]

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)


def test_epoch_order_depends_on_seed_and_epoch_only_even_under_global_seed_0():
    """--seed 0 sets TensorFlow's global seed to 0, which once broke the epoch shuffle."""
    import keras

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
