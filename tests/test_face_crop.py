"""Tests for meld_tf.data.face_crop: centre crops without a face, the sample's drawn faces."""

import numpy as np

from meld_tf.data.face_crop import crop_faces
from meld_tf.data.sample import draw_face


def test_crop_faces_centre_crop_without_face():
    frames = np.zeros((2, 40, 80, 3), np.uint8)
    frames[:, :, 20:60] = 200  # the centre square
    crops, has_face = crop_faces(frames, frame_size=10)
    assert crops.shape == (2, 10, 10, 3) and not has_face
    assert (crops == 200).all()


def test_crop_faces_finds_a_drawn_face():
    """The sample's drawn faces are found by the Haar cascade in most frames."""
    rng = np.random.default_rng(0)
    found = [crop_faces(draw_face("joy", (240, 320), rng, num_frames=1))[1] for _ in range(6)]
    assert sum(found) >= 3
