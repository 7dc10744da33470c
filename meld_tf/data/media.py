"""Decoding MELD clips (or any mp4) into audio, frames and face crops, with PyAV and OpenCV.

Independent of TFDS: the dataset builder and ``meld_tf.predict`` both use these functions.

* :func:`decode_audio`: the first audio track, downmixed to mono and resampled (any channel
  count, any rate) to float32 in [-1, 1].
* :func:`decode_frames`: ``num_frames`` frames sampled evenly over the clip, resized to a
  ``frame_size`` square (the whole frame, squeezed: every speaker stays in view).
* :func:`crop_faces`: square crops around the largest face found by OpenCV's bundled Haar
  cascade (centre crop where none is found).
* :func:`decode_clip`: all of the above for one dataset clip; never raises on a bad clip
  and says why media is absent. :func:`decode_clips` runs it over many clips on a thread
  pool (PyAV and OpenCV release the GIL), in order.
"""

import collections
import concurrent.futures
import dataclasses
import logging
import os
import pathlib
import threading

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

# Face detection: Haar cascade settings (OpenCV's usual values). Detection runs on a copy
# whose longer side is at most _DETECTION_SIDE pixels; the crop is taken from the full frame.
_CASCADE_FILE = "haarcascade_frontalface_default.xml"
_DETECTION_SIDE = 320
_SCALE_FACTOR = 1.2
_MIN_NEIGHBORS = 5
_MIN_FACE = 20
_FACE_MARGIN = 0.25  # extra context around the detected box, as a fraction of its side


class MediaError(RuntimeError):
    """A clip that cannot give the requested media (missing, undecodable, no stream)."""


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


def _ffmpeg_text(error):
    """FFmpeg's message without the file name (the caller names the file)."""
    return getattr(error, "strerror", None) or str(error)


def _open(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: file does not exist")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as error:
        raise MediaError(f"{path}: cannot be opened ({_ffmpeg_text(error)})") from None


def probe_duration(path):
    """Duration of a media file in seconds from its header (None if the header has none)."""
    with _open(path) as container:
        if container.duration is not None:
            return container.duration / av.time_base
        durations = [
            float(s.duration * s.time_base) for s in container.streams if s.duration is not None
        ]
        return max(durations) if durations else None


def _decode_audio(path, sample_rate, max_seconds):
    """(float32 mono audio, whether it was cut at max_seconds)."""
    limit = int(round(max_seconds * sample_rate)) if max_seconds else None
    chunks, total, capped = [], 0, False
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    total += chunks[-1].size
                if limit is not None and total >= limit:
                    capped = True
                    break
            else:
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        except av.error.FFmpegError as error:
            raise MediaError(f"{path}: audio does not decode ({_ffmpeg_text(error)})") from None
    audio = np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)
    if limit is not None and audio.size > limit:
        audio, capped = audio[:limit], True
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak > 1.0:  # FFmpeg's float downmix sums channels: scale down only if it would clip
        audio = audio / peak
    return audio.astype(np.float32), capped


def decode_audio(path, sample_rate=16000, max_seconds=30):
    """Decode the first audio track of ``path`` to float32 mono at ``sample_rate``.

    Any channel count is downmixed (FFmpeg's matrix; scaled down only where the sum would
    clip), any rate resampled. Decoding stops at ``max_seconds``
    (None: the whole track); a longer track is cut there and a warning is logged.

    Raises:
        MediaError: the file is missing, does not decode or has no audio stream.
    """
    audio, capped = _decode_audio(path, sample_rate, max_seconds)
    if capped:
        logger.warning("%s: audio longer than %s s; decoded the first %s s.", path, max_seconds,
                       max_seconds)
    return audio


def _video_times(path, max_seconds):
    """Sorted presentation times (s) of the video frames of ``path`` up to max_seconds."""
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        times, capped = [], False
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                time = float(packet.pts * stream.time_base)
                if max_seconds is not None and time >= max_seconds:
                    capped = True
                    continue  # packets come in decode order: later ones may still be earlier
                times.append(time)
        except av.error.FFmpegError as error:
            raise MediaError(f"{path}: video does not demux ({_ffmpeg_text(error)})") from None
    return sorted(times), capped


def _decode_full_frames(path, num_frames, max_seconds):
    """``num_frames`` RGB frames at full resolution, evenly spaced in time; whether capped."""
    times, capped = _video_times(path, max_seconds)
    if not times:
        raise MediaError(f"{path}: no video frames")
    picks = [times[i] for i in np.linspace(0, len(times) - 1, num_frames).round().astype(int)]
    wanted, found = set(picks), {}
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                time = float(frame.pts * stream.time_base)
                if time in wanted:
                    found[time] = frame.to_ndarray(format="rgb24")
                if time >= picks[-1] or len(found) == len(wanted):
                    break
        except av.error.FFmpegError as error:
            raise MediaError(f"{path}: video does not decode ({_ffmpeg_text(error)})") from None
    if len(found) < len(wanted):
        raise MediaError(f"{path}: only {len(found)} of {len(wanted)} sampled frames decode")
    return np.stack([found[t] for t in picks]), capped


def resize_square(frames, frame_size):
    """Resize ``(N, H, W, 3)`` frames to ``(N, frame_size, frame_size, 3)``."""
    return np.stack(
        [cv2.resize(f, (frame_size, frame_size), interpolation=cv2.INTER_AREA) for f in frames]
    )


def decode_frames(path, num_frames, frame_size, max_seconds=30):
    """``num_frames`` frames of ``path`` sampled evenly over its first ``max_seconds``.

    Returns uint8 ``(num_frames, frame_size, frame_size, 3)`` RGB (the whole frame resized).
    A clip with fewer frames repeats frames. Raises ``MediaError`` for a missing or
    undecodable file or one without video.
    """
    frames, capped = _decode_full_frames(path, num_frames, max_seconds)
    if capped:
        logger.warning("%s: video longer than %s s; sampled its first %s s.", path, max_seconds,
                       max_seconds)
    return resize_square(frames, frame_size)


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
    try:
        duration = probe_duration(path)
    except Exception as error:  # any failure is a bad clip, never a crash
        return ClipResult.absent(config, f"does not decode ({_describe(error, path)})")
    limit = config.max_clip_seconds
    if duration is not None and duration > limit:
        return ClipResult.absent(config, f"over-long clip ({duration:.1f} s > {limit} s)")
    result = ClipResult.absent(config, "")
    reasons = []
    try:
        audio, capped = _decode_audio(path, config.sample_rate, limit)
        if capped:
            return ClipResult.absent(config, f"over-long clip (audio > {limit} s)")
        if audio.size == 0:
            raise MediaError(f"{path}: no audio samples")
        result.audio, result.has_audio = audio_to_int16(audio), True
    except Exception as error:
        reasons.append(f"audio: {_describe(error, path)}")
    try:
        full, capped = _decode_full_frames(path, config.num_frames, limit)
        if capped:
            return ClipResult.absent(config, f"over-long clip (video > {limit} s)")
        result.frames, result.has_video = resize_square(full, config.frame_size), True
        result.face_frames, result.has_face = crop_faces(full, config.frame_size)
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
