"""VideoConverter: a clip's frames -> the model's frame count and size, and the mask."""

import numpy as np
import tensorflow as tf
from helpers import run_layer_test

from meld_tf.preprocessing import VideoConverter, sample_frames
from meld_tf.preprocessing.video_converter import frames_to_float


def clip(size=16, count=4):
    frames = np.zeros((count, size, size, 3), np.uint8)
    frames[..., 0] = np.arange(count)[:, None, None] * 50
    frames[:, : size // 2, :, 1] = 200
    return frames


def test_layer_and_config_round_trip():
    outputs = run_layer_test(
        VideoConverter, {"num_frames": 2, "frame_size": 8}, tf.constant(clip()),
        expected_output_shape=[(2, 8, 8, 3), ()],
        call_kwargs={"present": tf.constant(True)}, expect_trainable=False,
    )  # fmt: skip
    frames = outputs["video_frames"].numpy()
    assert frames.dtype == np.uint8 and frames[:, 0, 0, 0].tolist() == [0, 150]
    assert float(outputs["video_mask"]) == 1.0


def test_frames_of_the_model_size_are_picked_not_resized():
    frames = tf.constant(clip(size=8, count=5))
    picked = VideoConverter(num_frames=3, frame_size=8)(frames)["video_frames"]
    np.testing.assert_array_equal(picked, tf.gather(frames, [0, 2, 4]))
    np.testing.assert_array_equal(picked, sample_frames(frames, 3, 8, resize=False))
    resized = VideoConverter(num_frames=3, frame_size=4)(frames)["video_frames"]
    np.testing.assert_array_equal(resized, sample_frames(frames, 3, 4))
    assert resized.shape == (3, 4, 4, 3)


def test_frames_to_float_scales_to_unit_range():
    scaled = frames_to_float(tf.constant([[0, 51, 255]], tf.uint8))
    assert scaled.dtype == tf.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]])
