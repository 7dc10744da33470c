"""The media of a dataset clip: what is decoded from it (:class:`MediaConfig`) and what the
dataset keeps of it (:class:`ClipResult`).

Independent of TFDS: the dataset builder and ``meld_tf.predict`` both use these functions.

* :func:`decode_clip`: the audio (``meld_tf.data.stream_decoding``), the frames and the face
  crops (``meld_tf.data.face_crop``) of one clip; never raises on a bad clip and says why
  media is absent.
* :func:`decode_clips`: `decode_clip` over many clips on a thread pool (PyAV and OpenCV
  release the GIL), in order.
"""

import collections
import concurrent.futures
import dataclasses
import os
import pathlib

import numpy as np

from meld_tf.data.face_crop import crop_faces
from meld_tf.data.stream_decoding import MediaError, open_clip, rgb_frames, square_frames


@dataclasses.dataclass(frozen=True)
class MediaConfig:
    """What is decoded from each clip.

    Args:
        num_frames: frames sampled evenly over the clip.
        frame_size: side of the square frames and face crops.
        sample_rate: audio rate in Hz (mono).
        max_clip_seconds: clips longer than this are mis-cut (MELD has a few of 40-305 s):
            their media is not kept. Decoding never reads further than this.
    """

    num_frames: int = 8
    frame_size: int = 112
    sample_rate: int = 16000
    max_clip_seconds: float = 30.0


@dataclasses.dataclass
class ClipResult:
    """The media of one clip, as written to the dataset.

    ``audio`` is int16 mono (length 0 when absent); ``frames`` and ``face_frames`` are uint8
    ``(num_frames, frame_size, frame_size, 3)`` (zeros when absent). ``reason`` is empty when
    audio and video both decoded, else it says what is missing and why.
    """

    audio: np.ndarray
    frames: np.ndarray
    face_frames: np.ndarray
    has_audio: bool
    has_video: bool
    has_face: bool
    reason: str = ""

    @classmethod
    def absent(cls, config, reason):
        """A result with no media at all."""
        blank = np.zeros((config.num_frames, config.frame_size, config.frame_size, 3), np.uint8)
        return cls(np.zeros((0,), np.int16), blank, blank.copy(), False, False, False, reason)


def audio_to_int16(audio):
    """float32 audio in [-1, 1] -> int16 PCM (clipped)."""
    return np.clip(np.round(np.asarray(audio) * 32767.0), -32768, 32767).astype(np.int16)


def decode_clip(path, config):
    """Decode one dataset clip; never raises on a bad clip.

    Args:
        path: the mp4 (None or a missing path: the clip is missing).
        config: a `MediaConfig` (or any object with its four fields).

    Returns:
        A `ClipResult`. A missing, undecodable, empty or over-long clip (more than
        ``config.max_clip_seconds``: mis-cut) gives no media and a ``reason``; a clip
        without an audio (video) stream gives video (audio) only, with a ``reason``.
    """
    if path is None or not pathlib.Path(path).is_file():
        return ClipResult.absent(config, "missing clip")
    limit = config.max_clip_seconds
    try:
        with open_clip(path) as clip:
            duration = clip.duration
            if duration is not None and duration > limit:
                return ClipResult.absent(config, f"over-long clip ({duration:.1f} s > {limit} s)")
            streams = clip.read(config.sample_rate, config.num_frames, limit)
    except Exception as error:  # any failure is a bad clip, never a crash
        return ClipResult.absent(config, f"does not decode ({_describe(error, path)})")
    for name in ("audio", "video"):
        if getattr(streams, f"{name}_capped"):
            return ClipResult.absent(config, f"over-long clip ({name} > {limit} s)")
    result = ClipResult.absent(config, "")
    reasons = []
    if streams.audio is not None and streams.audio.size == 0:
        streams.audio_error = "no audio samples"
    if streams.audio_error:
        reasons.append(f"audio: {streams.audio_error}")
    else:
        result.audio, result.has_audio = audio_to_int16(streams.audio), True
    if streams.video_error:
        reasons.append(f"video: {streams.video_error}")
    else:
        try:
            result.frames = square_frames(streams.frames, config.frame_size)
            full = rgb_frames(streams.frames)
            result.face_frames, result.has_face = crop_faces(full, config.frame_size)
            result.has_video = True
        except Exception as error:
            reasons.append(f"video: {_describe(error, path)}")
    if not (result.has_audio or result.has_video) and reasons:
        return ClipResult.absent(config, "does not decode (" + "; ".join(reasons) + ")")
    result.reason = "; ".join(reasons)
    return result


def _describe(error, path):
    """Short text of an exception, without the file path (the summary lists keys)."""
    text = str(error).removeprefix(f"{path}: ")
    return text if isinstance(error, MediaError) else f"{type(error).__name__}: {text}"


def decode_clips(paths, config, num_workers=None):
    """Yield `decode_clip` of each path, in order, decoding on ``num_workers`` threads.

    At most ``2 * num_workers`` results wait in memory. ``num_workers`` defaults to the
    number of CPU cores.
    """
    num_workers = num_workers or os.cpu_count() or 1
    with concurrent.futures.ThreadPoolExecutor(num_workers) as pool:
        pending = collections.deque()
        for path in paths:
            pending.append(pool.submit(decode_clip, path, config))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
