"""Tests for meld_tf.data.media: audio, frames, face crops and bad clips."""

import numpy as np
import pytest

from meld_tf.data import media
from meld_tf.data.sample import draw_face, write_clip
from tfds_meld.meld.meld_report import BuildReport

CONFIG = media.MediaConfig(num_frames=4, frame_size=32, sample_rate=16000, max_clip_seconds=5)


def _tone(seconds, rate, channels, hz=440.0):
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def _frames(count, height=48, width=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), np.uint8)


def _dominant_hz(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return np.argmax(spectrum) * rate / audio.size


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """One good clip and one of each fault, written with the sample's write_clip."""
    folder = tmp_path_factory.mktemp("clips")
    paths = {name: folder / f"{name}.mp4" for name in (
        "good", "no_audio", "no_video", "truncated", "empty", "long", "missing")}  # fmt: skip
    write_clip(paths["good"], _frames(24), _tone(2.0, 44100, 6), fps=12, sample_rate=44100)
    write_clip(paths["no_audio"], _frames(12), None, fps=12)
    write_clip(paths["no_video"], None, _tone(1.0, 48000, 2), sample_rate=48000)
    data = paths["good"].read_bytes()
    paths["truncated"].write_bytes(data[: len(data) // 2])
    paths["empty"].write_bytes(b"")
    write_clip(paths["long"], _frames(14), _tone(7.0, 16000, 1), fps=2, sample_rate=16000)
    return paths


def test_audio_downmix_and_resample(clips):
    """A 440 Hz tone at 44.1 kHz on 6 channels comes back 16 kHz mono at 440 Hz."""
    audio = media.decode_audio(clips["good"], sample_rate=16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == pytest.approx(2.0 * 16000, rel=0.05)
    assert _dominant_hz(audio, 16000) == pytest.approx(440, abs=2)
    assert 0.1 < np.abs(audio).max() <= 1.0


def test_audio_is_capped(clips, caplog):
    audio = media.decode_audio(clips["long"], sample_rate=8000, max_seconds=3)
    assert audio.size == 3 * 8000
    assert "decoded the first 3 s" in caplog.text


def test_frames_count_and_size(clips):
    frames = media.decode_frames(clips["good"], num_frames=5, frame_size=40)
    assert frames.shape == (5, 40, 40, 3) and frames.dtype == np.uint8
    assert len({f.tobytes() for f in frames}) == 5  # distinct frames, spread over the clip
    # More frames than the clip has: frames repeat, the count is still exact.
    assert media.decode_frames(clips["no_audio"], 20, 16).shape == (20, 16, 16, 3)


def test_frames_sampled_evenly(tmp_path):
    """Frame i of a clip whose frame t is filled with grey level 10 * t."""
    frames = np.stack([np.full((32, 32, 3), 10 * t, np.uint8) for t in range(25)])
    write_clip(tmp_path / "ramp.mp4", frames, None, fps=5)
    got = media.decode_frames(tmp_path / "ramp.mp4", num_frames=5, frame_size=8)
    levels = got.reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [0, 60, 120, 180, 240], atol=4)


def test_crop_faces_centre_crop_without_face():
    frames = np.zeros((2, 40, 80, 3), np.uint8)
    frames[:, :, 20:60] = 200  # the centre square
    crops, has_face = media.crop_faces(frames, frame_size=10)
    assert crops.shape == (2, 10, 10, 3) and not has_face
    assert (crops == 200).all()


def test_crop_faces_finds_a_drawn_face():
    """The sample's drawn faces are found by the Haar cascade in most frames."""
    rng = np.random.default_rng(0)
    found = [media.crop_faces(draw_face("joy", (240, 320), rng, num_frames=1))[1]
             for _ in range(6)]
    assert sum(found) >= 3


@pytest.mark.parametrize(
    "name, has_audio, has_video, reason",
    [
        ("good", True, True, ""),
        ("no_audio", False, True, "audio: no audio stream"),
        ("no_video", True, False, "video: no video stream"),
        ("truncated", False, False, "does not decode"),
        ("empty", False, False, "does not decode"),
        ("long", False, False, "over-long clip"),
        ("missing", False, False, "missing clip"),
    ],
)
def test_decode_clip_never_raises(clips, name, has_audio, has_video, reason):
    result = media.decode_clip(clips[name], CONFIG)
    assert (result.has_audio, result.has_video) == (has_audio, has_video)
    assert result.reason.startswith(reason) and bool(result.reason) == bool(reason)
    assert result.frames.shape == result.face_frames.shape == (4, 32, 32, 3)
    assert result.audio.dtype == np.int16
    assert (result.audio.size > 0) == has_audio
    if not has_video:
        assert not result.frames.any() and not result.has_face


def test_decode_clips_keeps_order_and_reports(clips):
    names = ["good", "missing", "no_audio", "truncated", "good", "long", "empty"]
    results = list(media.decode_clips([clips[n] for n in names] + [None], CONFIG, 2))
    assert [r.has_video for r in results] == [True, False, True, False, True, False, False, False]
    report = BuildReport("sample")
    for i, result in enumerate(results):
        report.add_row("train", f"train/dia{i}_utt0")
        report.add_clip("train", f"train/dia{i}_utt0", result)
    summary = report.format()
    assert "train: 8 examples; 2 clips decoded (audio and video), 6 with media missing" in summary
    for i in (1, 2, 3, 5, 6, 7):
        assert f"train/dia{i}_utt0: {results[i].reason}" in summary
    assert "train/dia0_utt0" not in summary


def test_missing_file_errors_are_clear(tmp_path):
    with pytest.raises(media.MediaError, match="nope.mp4: file does not exist"):
        media.decode_audio(tmp_path / "nope.mp4")
