"""Tests for meld_tf.data.stream_decoding: audio downmix and resampling, frame sampling."""

import numpy as np
import pytest

from meld_tf.data import stream_decoding
from meld_tf.data.sample import write_clip


def _dominant_hz(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return np.argmax(spectrum) * rate / audio.size


def test_audio_downmix_and_resample(fault_clips):
    """A 440 Hz tone at 44.1 kHz on 6 channels comes back 16 kHz mono at 440 Hz."""
    audio = stream_decoding.decode_audio(fault_clips["good"], sample_rate=16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == pytest.approx(2.0 * 16000, rel=0.05)
    assert _dominant_hz(audio, 16000) == pytest.approx(440, abs=2)
    assert 0.1 < np.abs(audio).max() <= 1.0


def test_audio_is_capped(fault_clips, caplog):
    audio = stream_decoding.decode_audio(fault_clips["long"], sample_rate=8000, max_seconds=3)
    assert audio.size == 3 * 8000
    assert "decoded the first 3 s" in caplog.text


def test_frames_count_and_size(fault_clips):
    frames = stream_decoding.decode_frames(fault_clips["good"], num_frames=5, frame_size=40)
    assert frames.shape == (5, 40, 40, 3) and frames.dtype == np.uint8
    assert len({f.tobytes() for f in frames}) == 5  # distinct frames, spread over the clip
    # More frames than the clip has: frames repeat, the count is still exact.
    assert stream_decoding.decode_frames(fault_clips["no_audio"], 20, 16).shape == (20, 16, 16, 3)


def test_frames_sampled_evenly(tmp_path):
    """Frame i of a clip whose frame t is filled with grey level 10 * t."""
    frames = np.stack([np.full((32, 32, 3), 10 * t, np.uint8) for t in range(25)])
    write_clip(tmp_path / "ramp.mp4", frames, None, fps=5)
    got = stream_decoding.decode_frames(tmp_path / "ramp.mp4", num_frames=5, frame_size=8)
    levels = got.reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [0, 60, 120, 180, 240], atol=4)


def test_missing_file_errors_are_clear(tmp_path):
    with pytest.raises(stream_decoding.MediaError, match="nope.mp4: file does not exist"):
        stream_decoding.decode_audio(tmp_path / "nope.mp4")


def test_square_frames_average_areas(tmp_path):
    """The whole frame squeezed to a square by area averaging: compared with OpenCV's
    INTER_AREA on the same decoded RGB frames (smooth content, as video is)."""
    import cv2

    y, x = np.mgrid[0:48, 0:64]
    frame = np.stack([x * 4, y * 5, 128 + 60 * np.sin(x / 6.0) * np.cos(y / 5.0)], axis=-1)
    frames = np.repeat(frame[None].clip(0, 255).astype(np.uint8), 3, axis=0)
    write_clip(tmp_path / "blur.mp4", frames, None, fps=5)
    with stream_decoding.open_clip(tmp_path / "blur.mp4") as clip:
        picked = clip.read(num_frames=2).frames
    squares = stream_decoding.square_frames(picked, 16)
    full = stream_decoding.rgb_frames(picked)
    expected = np.stack([cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA) for f in full])
    assert squares.shape == (2, 16, 16, 3)
    assert np.abs(squares.astype(int) - expected).mean() < 2
