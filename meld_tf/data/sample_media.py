"""Synthetic media for the MELD sample: a voice-like signal, a drawn face, an mp4 writer.

`synth_voice` and `draw_face` make content whose emotion can be learned (pitch, contour,
energy, tempo; mouth, brows, eyes); `write_clip` writes h264 + AAC mp4 files with PyAV in
any of the layouts of real MELD clips (1, 2 or 6 channels, 16 to 48 kHz), so decoders can
be tested on downmixing and resampling.
"""

import pathlib

import av
import cv2
import numpy as np

# FFmpeg's native AAC encoder with its fast coder and no optional tools: several times
# faster than the defaults, good enough for synthetic voices.
AAC_OPTIONS = {"aac_coder": "fast", "aac_pns": "0", "aac_tns": "0", "aac_is": "0", "aac_ms": "0"}
CONTROL_RATE = 1000  # Hz of the pitch and loudness curves of synth_voice
CHANNEL_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
# Gain of a centred voice in each channel of a layout (5.1 order: FL FR FC LFE BL BR).
CHANNEL_GAINS = {1: (1.0,), 2: (1.0, 0.9), 6: (0.5, 0.5, 1.0, 0.1, 0.2, 0.2)}

# emotion: (base pitch Hz, contour in octaves over the clip, vibrato depth, vibrato Hz,
#           peak level, syllables per second, harmonic roll-off exponent)
VOICES = {
    "anger": (210.0, -0.10, 0.010, 5.0, 0.90, 5.0, 0.8),
    "disgust": (135.0, -0.25, 0.005, 4.0, 0.50, 2.5, 1.2),
    "fear": (290.0, 0.00, 0.040, 8.0, 0.45, 6.0, 1.5),
    "joy": (250.0, 0.30, 0.015, 5.0, 0.70, 4.5, 1.0),
    "neutral": (165.0, 0.00, 0.005, 5.0, 0.40, 3.5, 1.3),
    "sadness": (115.0, -0.35, 0.010, 3.0, 0.25, 2.0, 1.6),
    "surprise": (330.0, 0.50, 0.010, 5.0, 0.70, 3.0, 1.0),
}

# emotion: (mouth shape, mouth opening, brow raise, brow tilt (+ furrowed), eye opening)
FACES = {
    "anger": ("frown", 0.3, -0.4, 1.0, 0.6),
    "disgust": ("smirk", 0.2, -0.2, 0.6, 0.55),
    "fear": ("wide", 0.8, 0.7, -0.8, 1.3),
    "joy": ("smile", 0.6, 0.2, 0.0, 0.8),
    "neutral": ("line", 0.1, 0.0, 0.0, 1.0),
    "sadness": ("frown", 0.2, 0.1, -1.0, 0.65),
    "surprise": ("open", 0.7, 0.8, 0.0, 1.35),
}


def synth_voice(emotion, seconds, sample_rate, rng):
    """A voice-like mono signal showing ``emotion``: float32 ``(num_samples,)`` in [-1, 1].

    A harmonic series with a pitch contour and vibrato, cut into syllables by an
    amplitude envelope, plus mild noise. Pitch, contour, vibrato, level and tempo depend
    on the emotion (`VOICES`), with a little random variation from ``rng``.
    """
    f0, contour, depth, vibrato_hz, level, tempo, rolloff = VOICES[emotion]
    f0 *= float(np.exp(rng.normal(0.0, 0.04)))
    tempo *= float(rng.uniform(0.85, 1.15))
    num_samples = int(round(seconds * sample_rate))
    # Pitch and loudness curves at a 1 kHz control rate, interpolated to the sample rate.
    c = np.linspace(0.0, seconds, max(2, int(seconds * CONTROL_RATE) + 1))
    pitch = f0 * 2.0 ** (contour * (c / max(seconds, 1e-6) - 0.5))
    pitch *= 1 + depth * np.sin(2 * np.pi * vibrato_hz * c)
    loudness = np.clip(np.sin(np.pi * tempo * c + rng.uniform(0, np.pi)), 0.0, None) ** 0.5
    loudness *= np.clip(np.minimum(c, c[-1] - c) / 0.05, 0.0, 1.0)  # fade in and out
    t = np.arange(num_samples) / sample_rate
    phase = 2 * np.pi * np.cumsum(np.interp(t, c, pitch)) / sample_rate
    # Harmonics sin(k phase) by the Chebyshev recursion: one sin and one cos in all.
    twice_cos = (2 * np.cos(phase)).astype(np.float32)
    current = np.sin(phase).astype(np.float32)
    previous = np.zeros_like(current)
    voice = current.copy()
    for k in range(2, 11):
        if k * pitch.max() >= 0.45 * sample_rate:
            break
        previous, current = current, twice_cos * current - previous
        voice += current / np.float32(k**rolloff)
    voice *= np.interp(t, c, loudness).astype(np.float32)
    voice *= level * float(rng.uniform(0.85, 1.1)) / max(float(np.abs(voice).max()), 1e-6)
    voice += 0.01 * rng.standard_normal(num_samples, dtype=np.float32)
    return np.clip(voice, -1.0, 1.0).astype(np.float32)


def spread_channels(voice, channels):
    """Place a mono voice in a 1-, 2- or 6-channel layout: ``(num_samples, channels)``."""
    if channels not in CHANNEL_GAINS:
        raise ValueError(f"channels={channels} is not supported; use one of {list(CHANNEL_GAINS)}.")
    return (voice[:, None] * np.asarray(CHANNEL_GAINS[channels], np.float32)).astype(np.float32)


def _point(x, y):
    return int(round(x)), int(round(y))


def _draw_one(image, emotion, centre, face, colours, talk):
    """Draw one face on ``image`` (RGB, modified in place)."""
    shape, opening, raise_, tilt, eye_open = FACES[emotion]
    (cx, cy), (fw, fh) = centre, face
    skin, hair = colours
    line = max(2, int(round(fw * 0.05)))
    cv2.ellipse(image, _point(cx, cy - 0.12 * fh), _point(0.56 * fw, 0.5 * fh), 0, 180, 360,
                hair, -1, cv2.LINE_AA)
    # Skin with shading: darker rim, lighter centre.
    for step, shade in enumerate((0.7, 0.82, 0.92, 1.0)):
        scale = 1.0 - 0.12 * step
        colour = tuple(int(c * shade) for c in skin)
        cv2.ellipse(image, _point(cx, cy + 0.03 * fh * step), _point(0.5 * fw * scale,
                    0.5 * fh * scale), 0, 0, 360, colour, -1, cv2.LINE_AA)
    eye_y = cy - 0.1 * fh
    for side in (-1, 1):
        ex = cx + side * 0.2 * fw
        socket = tuple(int(c * 0.62) for c in skin)  # dark eye sockets help face detectors
        cv2.ellipse(image, _point(ex, eye_y - 0.01 * fh), _point(0.14 * fw, 0.075 * fh), 0, 0,
                    360, socket, -1, cv2.LINE_AA)
        cv2.ellipse(image, _point(ex, eye_y), _point(0.1 * fw, 0.045 * fh * eye_open), 0, 0, 360,
                    (210, 210, 205), -1, cv2.LINE_AA)
        cv2.circle(image, _point(ex, eye_y), int(round(0.05 * fw * min(eye_open, 1.1))),
                   (25, 20, 20), -1, cv2.LINE_AA)
        brow_y = eye_y - 0.1 * fh - raise_ * 0.05 * fh
        inner = (cx + side * 0.07 * fw, brow_y + tilt * 0.04 * fh)
        outer = (cx + side * 0.3 * fw, brow_y - tilt * 0.02 * fh)
        cv2.line(image, _point(*inner), _point(*outer), (40, 30, 25), line, cv2.LINE_AA)
    dark = tuple(int(c * 0.6) for c in skin)
    cv2.line(image, _point(cx, cy - 0.02 * fh), _point(cx - 0.04 * fw, cy + 0.1 * fh), dark,
             max(1, line // 2), cv2.LINE_AA)
    mouth, width = (cx, cy + 0.27 * fh), 0.2 * fw
    open_ = (opening + talk) * 0.06 * fh
    lips = (120, 40, 50)
    if shape == "smile":
        cv2.ellipse(image, _point(*mouth), _point(width, 0.04 * fh + open_), 0, 0, 180, lips, -1,
                    cv2.LINE_AA)
    elif shape == "frown":
        cv2.ellipse(image, _point(mouth[0], mouth[1] + 0.05 * fh), _point(width * 0.9, 0.05 * fh),
                    0, 180, 360, lips, line, cv2.LINE_AA)
    elif shape in ("open", "wide"):
        axes = (width * 0.5, open_ + 0.02 * fh) if shape == "open" else (width, 0.5 * open_ + 2)
        cv2.ellipse(image, _point(*mouth), _point(*axes), 0, 0, 360, (90, 30, 35), -1, cv2.LINE_AA)
    elif shape == "smirk":
        cv2.line(image, _point(mouth[0] - width, mouth[1] + 0.03 * fh),
                 _point(mouth[0] + width, mouth[1] - 0.04 * fh), lips, line, cv2.LINE_AA)
        for side in (-1, 1):
            cv2.line(image, _point(cx + side * 0.03 * fw, cy), _point(cx + side * 0.08 * fw,
                     cy - 0.04 * fh), dark, 1, cv2.LINE_AA)
    else:
        cv2.line(image, _point(mouth[0] - width, mouth[1]), _point(mouth[0] + width, mouth[1]),
                 lips, line, cv2.LINE_AA)


def draw_face(emotion, size, rng, num_frames=1):
    """Frames of a drawn face showing ``emotion``: uint8 ``(num_frames, height, width, 3)``.

    ``size`` is ``(height, width)``. The face has a random size, position, skin and hair
    colour on a shaded background, moves a little from frame to frame and "talks" (its
    mouth opening varies). Mouth shape, brows and eyes depend on the emotion (`FACES`).
    """
    height, width = size
    fh = height * float(rng.uniform(0.62, 0.78))
    fw = fh * 0.78
    cx = width / 2 + float(rng.uniform(-0.12, 0.12)) * width
    cy = height / 2 + float(rng.uniform(-0.05, 0.05)) * height
    skin = tuple(int(v) for v in np.array([225, 175, 140]) * rng.uniform(0.75, 1.05))
    hair = tuple(int(v) for v in rng.integers(20, 90, size=3))
    tone = float(rng.uniform(90, 190))
    background = np.clip(tone + np.linspace(-25, 25, width)[None, :, None]
                         + np.zeros((height, 1, 3)) + rng.normal(0, 8, size=3), 0, 255)
    talk_hz = float(rng.uniform(2.0, 4.0))
    offset = np.zeros(2)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        offset = np.clip(offset + rng.normal(0.0, 0.6, size=2), -3, 3)
        image = background.astype(np.uint8)
        talk = 0.3 * abs(np.sin(np.pi * talk_hz * i / 12.0))
        _draw_one(image, emotion, (cx + offset[0], cy + offset[1]), (fw, fh), (skin, hair), talk)
        frames[i] = cv2.GaussianBlur(image, (3, 3), 0)
    return frames


def _check_audio(audio):
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in CHANNEL_LAYOUTS:
        raise ValueError(f"audio has shape {audio.shape}; expected (num_samples,) or "
                         f"(num_samples, channels) with channels in {list(CHANNEL_LAYOUTS)}.")
    if not np.issubdtype(audio.dtype, np.floating) or (audio.size and np.abs(audio).max() > 1.0):
        raise ValueError("audio must be float in [-1, 1]; scale or clip it before write_clip.")
    return np.ascontiguousarray(audio.T, dtype=np.float32)


def _check_frames(frames):
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 (T, H, W, 3) with T >= 1; got {frames.dtype} "
                         f"{frames.shape}.")
    pad = ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0))
    return np.pad(frames, pad, mode="edge")  # yuv420p needs even sizes


def write_clip(path, frames=None, audio=None, fps=12, sample_rate=16000):
    """Write an mp4 clip with PyAV: h264 video (yuv420p) and/or AAC audio.

    Args:
        path: output file (its folder must exist).
        frames: uint8 ``(T, H, W, 3)`` RGB, or None for no video stream. Odd sizes are
            padded by one edge pixel.
        audio: float32 ``(num_samples,)`` or ``(num_samples, channels)`` in [-1, 1],
            channels 1, 2 or 6 (5.1); None for no audio stream.
        fps: video frame rate.
        sample_rate: audio sample rate (16000, 22050, 44100, 48000, ...).

    Returns:
        ``pathlib.Path`` of the clip.
    """
    path = pathlib.Path(path)
    if frames is None and audio is None:
        raise ValueError(f"write_clip({path}): give frames, audio or both.")
    frames = None if frames is None else _check_frames(frames)
    planar = None if audio is None else _check_audio(audio)
    with av.open(str(path), "w", format="mp4") as container:
        streams = []
        if frames is not None:
            video = container.add_stream("h264", rate=int(fps))
            video.height, video.width = frames.shape[1:3]
            video.pix_fmt = "yuv420p"
            video.options = {"preset": "ultrafast", "threads": "1"}
            packets = [video.encode(av.VideoFrame.from_ndarray(f, format="rgb24")) for f in frames]
            streams.append((video, packets))
        if planar is not None:
            layout = CHANNEL_LAYOUTS[planar.shape[0]]
            sound = container.add_stream("aac", rate=int(sample_rate))
            sound.layout = layout
            sound.options = AAC_OPTIONS
            frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
            frame.sample_rate = int(sample_rate)
            streams.append((sound, [sound.encode(frame)]))
        for stream, packets in streams:
            for batch in [*packets, stream.encode()]:
                container.mux(batch)
    return path
