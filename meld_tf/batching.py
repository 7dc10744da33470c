"""Batching a preprocessed split: ``batches(data, config, class_weights, training, epoch)``.

A split preprocessed by `meld_tf.preprocessing.MeldPreprocessor` (cached, unbatched
``(inputs, labels)``) becomes the batches that ``fit``, ``evaluate`` and the scoring of a
run read:

* training order: ``epoch_shuffle``, a function of ``(seed, epoch)`` only (a resumed run
  sees the orders of an uninterrupted one); with ``bucket_by_length``,
  ``length_grouped_batches`` (texts of similar length together);
* sample weights (training): ``sample_weights``, the class weight of each example's
  emotion, and for each auxiliary head that weight where its modality is present;
* ``finalize``: each batch's inputs as the model takes them (``finish_inputs``: video
  frames to float32, text padding trimmed) and the auxiliary heads' labels.
"""

import numpy as np
import tensorflow as tf

from meld_tf.preprocessing.text_preprocessor import text_length, trim_text
from meld_tf.preprocessing.video_converter import frames_to_float

GROUP_BATCHES = 50  # With bucket_by_length, batches are formed in windows of this many.
ORDER_GRAPH_SEED = 1  # see epoch_shuffle


def batches(data, config, class_weights=None, training=False, epoch=None):
    """Batches of a ``preprocess``-ed split: ``(inputs, labels[, sample_weights])``.

    Args:
        data: the split, as `MeldPreprocessor.preprocess` returns it.
        config: the run's ``TrainConfig`` (batch size, seed, buffer, ``bucket_by_length``;
            its ``model``: modalities and auxiliary heads).
        class_weights: per-emotion weights of the emotion loss (training only), or None.
        training: shuffle, group by length, and weigh the examples.
        epoch: an int64 ``tf.Variable``, the epoch whose order training batches take
            (`epoch_shuffle`); None: epoch 0's.

    Training batches are shuffled in an order drawn for the config's seed and the
    ``epoch`` variable (a new order each epoch, the same orders every run, resumed or
    not) and carry sample weights when class weights are set or the model has auxiliary
    heads (`sample_weights`). With ``bucket_by_length`` every batch's text padding is
    trimmed to its longest text (``finalize``), and training batches hold texts of
    similar length (`length_grouped_batches`), so trimming saves the most; evaluation
    batches keep the split's order.
    """
    heads = config.model.auxiliary_heads
    if training:
        data = epoch_shuffle(data, config.shuffle_buffer, config.seed, epoch)
    if training and config.bucket_by_length and "text" in config.model.modalities:
        data = length_grouped_batches(data, config.batch_size, config.seed, epoch)
    else:
        data = data.batch(config.batch_size)
    if training and (class_weights is not None or heads):

        def weigh(inputs, labels):
            return inputs, labels, sample_weights(inputs, labels, class_weights, heads)

        data = data.map(weigh)

    def finish(*batch):
        return finalize(config, *batch)

    data = data.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


# The order of an epoch.


def order_seed(seed, epoch=None):
    """The int64 seed of an epoch's order: a function of ``(seed, epoch)`` only."""
    number = tf.constant(0, tf.int64) if epoch is None else epoch.read_value()
    return tf.random.stateless_uniform(
        [], tf.stack([tf.constant(seed, tf.int64), number]), None, None, tf.int64
    )


def epoch_shuffle(data, buffer_size, seed, epoch=None):
    """``data`` shuffled in an order that is a function of ``(seed, epoch)`` only.

    Args:
        data: a dataset of known cardinality (a ``preprocess``-ed split).
        buffer_size: the shuffle buffer.
        seed: the run's seed.
        epoch: an int64 ``tf.Variable``, read each time the result is iterated; set it to
            the epoch about to start (`meld_tf.callbacks.DataOrder`), so that a resumed
            run sees the orders of an uninterrupted one. None: epoch 0's order every time.
    """

    def one_epoch(_):
        # TensorFlow pairs an op seed with the graph seed and compares the pair with (0, 0)
        # in Python, which a tensor op seed cannot answer when the global seed is 0 (e.g.
        # after keras.utils.set_random_seed(0), --seed 0). A fixed seed for this function's
        # graph avoids that, and keeps the order a function of (seed, epoch) alone.
        tf.random.set_seed(ORDER_GRAPH_SEED)
        return data.shuffle(
            buffer_size, seed=order_seed(seed, epoch), reshuffle_each_iteration=False
        )

    shuffled = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    return shuffled.apply(tf.data.experimental.assert_cardinality(data.cardinality()))


def length_grouped_batches(data, batch_size, seed, epoch=None):
    """Batches of texts of similar length, formed as the PyTorch peer forms them.

    ``data`` (already shuffled) is cut into windows of ``GROUP_BATCHES`` batches; each
    window is sorted by text length and cut into batches, and the batches of a window are
    shuffled (an order drawn from ``(seed, epoch, window)``). Every example is in one
    batch, as many batches as plain batching gives, and the last batch of each window
    is the only partial one.
    """

    def window_batches(index, examples):
        order = tf.argsort(text_length(examples[0]), direction="DESCENDING", stable=True)
        starts = tf.range(0, tf.shape(order)[0], batch_size)
        key = tf.random.stateless_uniform(
            tf.shape(starts), tf.stack([order_seed(seed, epoch), index])
        )
        starts = tf.gather(starts, tf.argsort(key))

        def batch(start):
            picked = order[start:start + batch_size]
            return tf.nest.map_structure(lambda t: tf.gather(t, picked), examples)

        return tf.data.Dataset.from_tensor_slices(starts).map(batch)

    num_batches = -(-int(data.cardinality()) // batch_size)
    grouped = data.batch(batch_size * GROUP_BATCHES).enumerate().flat_map(window_batches)
    return grouped.apply(tf.data.experimental.assert_cardinality(num_batches))


# Weights and labels of a batch.


def balanced_class_weights(counts):
    """``N / (C * n_c)`` per class (scikit-learn's "balanced"); 0 for an absent class."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def sample_weights(inputs, labels, class_weights=None, auxiliary_heads=()):
    """``{"emotion": class weight of the example (1 without class weights),
    "sentiment": 1}``, and for each auxiliary head ``"<modality>_emotion"`` the class
    weight times the modality's mask: an encoder learns nothing from absent input."""
    index = tf.argmax(labels["emotion"], axis=-1)
    if class_weights is None:
        emotion = tf.ones_like(index, tf.float32)
    else:
        weights = tf.constant(list(map(float, class_weights)), tf.float32)
        emotion = tf.gather(weights, index)
    weights = {"emotion": emotion, "sentiment": tf.ones_like(emotion)}
    for name in auxiliary_heads:
        modality = name.removesuffix("_emotion")
        weights[name] = emotion * tf.cast(inputs[f"{modality}_mask"], tf.float32)
    return weights


def finish_inputs(inputs, config):
    """A batch's inputs as the model takes them: video frames to float32 in [0, 1]
    (`frames_to_float`); with ``config.bucket_by_length``, text padding trimmed to the
    batch's longest text (``trim_text``). Serving finishes its batches here too."""
    if "video_frames" in inputs:
        inputs = dict(inputs)
        inputs["video_frames"] = frames_to_float(inputs["video_frames"])
    if config.bucket_by_length and "text_padding_mask" in inputs:
        inputs = trim_text(inputs)
    return inputs


def finalize(config, inputs, labels, weights=None):
    """Per batch, after the cache: ``finish_inputs``, and the emotion label repeated for
    the model's auxiliary heads (``config.model.auxiliary_heads``)."""
    heads = config.model.auxiliary_heads
    labels = {**labels, **{name: labels["emotion"] for name in heads}}
    inputs = finish_inputs(inputs, config)
    return (inputs, labels) if weights is None else (inputs, labels, weights)
