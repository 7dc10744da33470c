"""Clips with the properties of real MELD clips, made from the synthetic sample's clips.

Real MELD clips are h264 1280 x 720 at 24 fps, about 1.6 Mbit/s (10 GB for 13,708 clips,
3.6 s on average), with 48 kHz AAC audio, often 6 channels. The sample's clips are small
(160 x 120, 10 fps), so they decode far faster than real ones. :func:`make_real` re-encodes a
sample clip at the real properties: its frames scaled to 1280 x 720 with film-like grain
(so the encoder spends the real bit rate), repeated to 24 fps and looped to 3.6 s; its voice
resampled to 48 kHz and spread over 5.1. x264's ``veryfast`` preset keeps B-frames, CABAC
and the deblocking filter, which are what decoding costs. Clips that the sample made faulty
(no audio, no video, truncated, mis-cut) are left as they are.
"""

import av
import cv2
import numpy as np

from meld_tf.data.sample_media import spread_channels
from meld_tf.data.stream_decoding import open_clip, rgb_frames

WIDTH, HEIGHT, FPS, SAMPLE_RATE, SECONDS, BIT_RATE = 1280, 720, 24, 48000, 3.6, 1_600_000
GRAIN = 10  # +- grey levels of noise per pixel and frame


def _read(path):
    """(RGB frames, their fps, mono audio at SAMPLE_RATE) of a healthy sample clip, else None."""
    try:
        with open_clip(path) as clip:
            if clip.duration is None or clip.duration > 30:
                return None
            video = clip.container.streams.video
            if not video or not video[0].frames:
                return None
            streams = clip.read(SAMPLE_RATE, video[0].frames, 30)  # every frame
            fps = float(video[0].average_rate or 0)
    except Exception:
        return None
    if streams.audio_error or streams.video_error or not fps or not streams.audio.size:
        return None
    return rgb_frames(streams.frames), fps, streams.audio


def make_real(source, target, rng):
    """Writes ``source`` (a sample clip) re-encoded at real MELD properties to ``target``.

    Returns False (and writes nothing) when ``source`` is one of the sample's faulty clips.
    """
    read = _read(source)
    if read is None:
        return False
    frames, fps, audio = read
    count = int(round(SECONDS * FPS))
    picks = (np.arange(count) * fps / FPS).astype(int) % len(frames)
    samples = int(round(SECONDS * SAMPLE_RATE))
    voice = np.resize(audio, samples)  # looped
    planar = np.ascontiguousarray(spread_channels(voice, 6).T, np.float32)
    with av.open(str(target), "w", format="mp4") as container:
        video = container.add_stream("h264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = BIT_RATE
        video.options = {"preset": "veryfast"}
        sound = container.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "5.1"
        for i in picks:
            big = cv2.resize(frames[i], (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            grain = rng.integers(-GRAIN, GRAIN + 1, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
            frame = np.clip(big + grain, 0, 255).astype(np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode())
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, start : start + 1024]), format="fltp",
                layout="5.1")  # fmt: skip
            chunk.sample_rate, chunk.pts = SAMPLE_RATE, start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode())
    return True
