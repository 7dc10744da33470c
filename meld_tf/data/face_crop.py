"""Cropping video frames to the speaker's face, found by OpenCV's bundled Haar cascade.

:func:`crop_faces` crops every frame to a square around the largest face (with a margin of
context), borrows the box of the nearest frame where a frame has no detection, and
centre-crops when no frame has a face.
"""

import os
import threading

import cv2
import numpy as np

from meld_tf.data.stream_decoding import MediaError

# Face detection: Haar cascade settings (OpenCV's usual values). Detection runs on a copy
# whose longer side is at most _DETECTION_SIDE pixels; the crop is taken from the full frame.
_CASCADE_FILE = "haarcascade_frontalface_default.xml"
_DETECTION_SIDE = 320
_SCALE_FACTOR = 1.2
_MIN_NEIGHBORS = 5
_MIN_FACE = 20
_FACE_MARGIN = 0.25  # extra context around the detected box, as a fraction of its side

_THREAD_STATE = threading.local()


def _face_cascade():
    """This thread's Haar cascade: one classifier shared by threads detects wrong faces."""
    cascade = getattr(_THREAD_STATE, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, _CASCADE_FILE))
        if cascade.empty():
            raise MediaError(f"OpenCV's face cascade {_CASCADE_FILE} does not load.")
        _THREAD_STATE.cascade = cascade
    return cascade


def _largest_face(frame):
    """(x, y, w, h) of the largest face in an RGB frame, or None."""
    height, width = frame.shape[:2]
    scale = min(1.0, _DETECTION_SIDE / max(height, width))
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(gray, (round(width * scale), round(height * scale)),
                          interpolation=cv2.INTER_AREA)
    faces = _face_cascade().detectMultiScale(
        gray, scaleFactor=_SCALE_FACTOR, minNeighbors=_MIN_NEIGHBORS,
        minSize=(_MIN_FACE, _MIN_FACE),
    )
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
    return tuple(float(v) / scale for v in (x, y, w, h))


def _square_box(box, height, width):
    """A square (x0, y0, side) inside the frame around ``box`` (centre square when None)."""
    if box is None:
        side = min(height, width)
        return (width - side) // 2, (height - side) // 2, side
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * _FACE_MARGIN)))
    side = max(1, min(side, height, width))
    x0 = int(round(x + w / 2 - side / 2))
    y0 = int(round(y + h / 2 - side / 2))
    return min(max(x0, 0), width - side), min(max(y0, 0), height - side), side


def crop_faces(frames, frame_size=None):
    """Crop each frame to the largest face found by the Haar cascade.

    Args:
        frames: uint8 ``(N, H, W, 3)`` RGB frames, any size (full resolution works best).
        frame_size: side of the output crops; default ``min(H, W)``.

    Returns:
        ``(face_frames, has_face)``: uint8 ``(N, frame_size, frame_size, 3)`` and whether a
        face was found in any frame. A frame without a detection uses the box of the nearest
        frame with one; with no face at all every frame is centre-cropped.
    """
    frames = np.asarray(frames)
    count, height, width = frames.shape[:3]
    frame_size = frame_size or min(height, width)
    boxes = [_largest_face(frame) for frame in frames]
    found = [i for i, box in enumerate(boxes) if box is not None]
    crops = []
    for i, frame in enumerate(frames):
        box = boxes[min(found, key=lambda j: abs(j - i))] if found else None
        x0, y0, side = _square_box(box, height, width)
        crop = frame[y0 : y0 + side, x0 : x0 + side]
        crops.append(cv2.resize(crop, (frame_size, frame_size), interpolation=cv2.INTER_AREA))
    return np.stack(crops) if count else frames, bool(found)
