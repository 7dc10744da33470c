"""Tests for meld_tf.data.media: a dataset clip's media, every fault, many clips in order."""

import numpy as np
import pytest

from meld_tf.data import media
from tfds_meld.meld.meld_report import BuildReport

CONFIG = media.MediaConfig(num_frames=4, frame_size=32, sample_rate=16000, max_clip_seconds=5)


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
def test_decode_clip_never_raises(fault_clips, name, has_audio, has_video, reason):
    result = media.decode_clip(fault_clips[name], CONFIG)
    assert (result.has_audio, result.has_video) == (has_audio, has_video)
    assert result.reason.startswith(reason) and bool(result.reason) == bool(reason)
    assert result.frames.shape == result.face_frames.shape == (4, 32, 32, 3)
    assert result.audio.dtype == np.int16
    assert (result.audio.size > 0) == has_audio
    if not has_video:
        assert not result.frames.any() and not result.has_face


def test_decode_clips_keeps_order_and_reports(fault_clips):
    names = ["good", "missing", "no_audio", "truncated", "good", "long", "empty"]
    results = list(media.decode_clips([fault_clips[n] for n in names] + [None], CONFIG, 2))
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


def test_decode_clip_opens_and_demuxes_the_clip_once(fault_clips, monkeypatch):
    import av

    opened, demuxed = [], []
    real_open = av.open

    class Counted:
        def __init__(self, container):
            self.container = container

        def __getattr__(self, name):
            return getattr(self.container, name)

        def demux(self, *streams, **kwargs):
            demuxed.append(len(streams))
            return self.container.demux(*streams, **kwargs)

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return Counted(real_open(*args, **kwargs))

    monkeypatch.setattr(av, "open", counting_open)
    result = media.decode_clip(fault_clips["good"], CONFIG)
    assert result.has_audio and result.has_video
    assert len(opened) == 1 and demuxed == [2]  # one pass, over both streams
