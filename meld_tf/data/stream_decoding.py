"""Decoding the audio track and the video frames of one media file (any container FFmpeg
reads, MELD's mp4 clips among them) with PyAV.

* :func:`decode_audio`: the first audio track, downmixed to mono and resampled (any channel
  count, any rate) to float32 in [-1, 1].
* :func:`decode_frames`: ``num_frames`` frames sampled evenly over the clip, resized to a
  ``frame_size`` square (the whole frame, squeezed: every speaker stays in view).

Both stop reading at ``max_seconds``. :func:`decode_audio_capped` and
:func:`decode_full_frames_capped` also say whether they stopped there (``meld_tf.data.media``
drops such mis-cut clips); every failure is a :class:`MediaError` naming the file.
"""

import logging
import pathlib

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)


class MediaError(RuntimeError):
    """A clip that cannot give the requested media (missing, undecodable, no stream)."""


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


def decode_audio_capped(path, sample_rate, max_seconds):
    """(float32 mono audio, whether it was cut at ``max_seconds``) of the first audio track."""
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
    audio, capped = decode_audio_capped(path, sample_rate, max_seconds)
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


def decode_full_frames_capped(path, num_frames, max_seconds):
    """(``num_frames`` RGB frames at full resolution, evenly spaced in time over the first
    ``max_seconds``; whether the video was cut there)."""
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
    frames, capped = decode_full_frames_capped(path, num_frames, max_seconds)
    if capped:
        logger.warning("%s: video longer than %s s; sampled its first %s s.", path, max_seconds,
                       max_seconds)
    return resize_square(frames, frame_size)
