"""Tests of the synthetic MELD sample: layout, CSV format, faults, clips, learnability."""

import collections
import csv
import re

import av
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from meld_tf.data import sample
from meld_tf.data.sample import SAMPLE_FAULTS, SampleConfig, generate_sample, write_clip
from meld_tf.labels import EMOTION_SENTIMENT, EMOTIONS

SPLITS = ("train", "dev", "test")


def read_rows(root, split):
    with open(root / sample.CSV_FILES[split], encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def key_of(row):
    return f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}"


def clip_path(root, split, key):
    folder = root / sample.CLIP_DIRS[split]
    prefixed = folder / f"{sample.TEST_PREFIX}{key}.mp4"
    return prefixed if prefixed.exists() else folder / f"{key}.mp4"


def decode(path, frame_step=1):
    """(frames (T, H, W, 3) or None, audio (channels, samples) or None, rate or None),
    keeping every ``frame_step``-th frame."""
    frames = audio = rate = None
    with av.open(str(path)) as container:
        if container.streams.video:
            frames = np.stack([f.to_ndarray(format="rgb24") for i, f in
                               enumerate(container.decode(video=0)) if i % frame_step == 0])
    with av.open(str(path)) as container:
        if container.streams.audio:
            rate = container.streams.audio[0].rate
            audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return frames, audio, rate


@pytest.fixture(scope="module")
def full_sample(tmp_path_factory):
    """The default-size sample (about 400 clips), shared by the fault and learning tests."""
    return generate_sample(tmp_path_factory.mktemp("meld_sample"), seed=0)


def test_layout_and_csv_format(full_sample):
    dialogues = sample.split_sizes(40, SampleConfig())
    assert dialogues == {"train": 28, "dev": 4, "test": 8}
    total, emotions = 0, collections.Counter()
    for split in SPLITS:
        raw = (full_sample / sample.CSV_FILES[split]).read_bytes()
        lines = raw.split(b"\r\n")
        assert lines[0].decode() == ",".join(sample.COLUMNS)
        assert lines[-1] == b"" and b"\n" not in b"".join(lines)  # CRLF only
        assert all(re.search(rb',"\d{1,2}:\d\d:\d\d,\d{2,3}","\d{1,2}:\d\d:\d\d,\d{2,3}"$', line)
                   for line in lines[1:-1])
        rows = read_rows(full_sample, split)
        assert len(rows) == len(lines) - 2
        assert {int(r["Dialogue_ID"]) for r in rows} == set(range(dialogues[split]))
        for dialogue in range(dialogues[split]):
            ids = [int(r["Utterance_ID"]) for r in rows if int(r["Dialogue_ID"]) == dialogue]
            assert ids == list(range(len(ids))) and 5 <= len(ids) <= 15
        for row in rows:
            assert row["Emotion"] in EMOTIONS
            expected = EMOTION_SENTIMENT[row["Emotion"]]
            assert row["Sentiment"] == expected or (
                expected is None and row["Sentiment"] in ("negative", "positive"))
            emotions[row["Emotion"]] += 1
        total += len(rows)
    assert 300 <= total <= 500
    assert emotions.most_common(1)[0][0] == "neutral" and len(emotions) == len(EMOTIONS)


def test_determinism(full_sample, tmp_path):
    csv_only = generate_sample(tmp_path / "a", seed=0, clips=False)
    other = generate_sample(tmp_path / "b", seed=1, clips=False)
    assert not (csv_only / "train_splits").exists()
    for split in SPLITS:
        name = sample.CSV_FILES[split]
        assert (csv_only / name).read_bytes() == (full_sample / name).read_bytes()
        assert (other / name).read_bytes() != (full_sample / name).read_bytes()
    # Dialogues have their own random streams: a small sample is a prefix of a big one.
    small = generate_sample(tmp_path / "c", seed=0, num_dialogues=5)
    small_rows = read_rows(small, "train")
    assert small_rows == read_rows(full_sample, "train")[: len(small_rows)]
    for split, key in [("train", "dia0_utt0"), ("dev", "dia0_utt2"), ("test", "dia1_utt2")]:
        first = decode(clip_path(small, split, key))
        second = decode(clip_path(full_sample, split, key))
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError, match="num_dialogues=4"):
        generate_sample(tmp_path / "e", num_dialogues=4, clips=False)


def test_text_and_time_faults(full_sample):
    found = collections.defaultdict(set)
    serials = collections.defaultdict(list)
    for split in SPLITS:
        for row in read_rows(full_sample, split):
            where = (split, key_of(row))
            text, start, end = row["Utterance"], row["StartTime"], row["EndTime"]
            serials[split].append(int(row["Sr No."]))
            if re.search("[\x80-\x9f]", text):
                found["c1_controls"].add(where)
            if "â€™" in text:
                found["mojibake"].add(where)
            if re.search(r",\d\d$", start) or re.search(r",\d\d$", end):
                found["two_digit_millis"].add(where)
            if start == end:
                found["zero_duration"].add(where)
            one_digit = re.match(r"\d:", start) is not None
            assert one_digit == (re.match(r"\d:", end) is not None)
            assert one_digit == (int(row["Dialogue_ID"]) % 4 == 1)
            if one_digit:
                found["one_digit_hour"].add(where)
    for fault in ("c1_controls", "mojibake", "two_digit_millis", "zero_duration"):
        assert found[fault] == set(SAMPLE_FAULTS[fault]), fault
    assert set(SAMPLE_FAULTS["one_digit_hour"]) <= found["one_digit_hour"]
    rows = sum(len(s) for s in serials.values())
    assert 0.15 < len(found["one_digit_hour"]) / rows < 0.35
    # Sr No.: unique except one repeated value in train, at the listed row.
    train_keys = [key_of(r) for r in read_rows(full_sample, "train")]
    train = serials["train"]
    repeats = [i for i in range(1, len(train)) if train[i] == train[i - 1]]
    assert [("train", train_keys[i]) for i in repeats] == list(SAMPLE_FAULTS["duplicate_sr_no"])
    assert len(set(serials["train"])) == len(serials["train"]) - 1
    assert all(len(set(serials[s])) == len(serials[s]) for s in ("dev", "test"))


def test_media_faults(full_sample):
    names = {split: {p.name for p in (full_sample / sample.CLIP_DIRS[split]).iterdir()}
             for split in SPLITS}
    prefixed = {("test", n[len(sample.TEST_PREFIX):-4]) for n in names["test"]
                if n.startswith(sample.TEST_PREFIX)}
    assert prefixed == set(SAMPLE_FAULTS["final_videos_prefix"])
    for split in SPLITS:
        keys = {key_of(r) for r in read_rows(full_sample, split)}
        on_disk = {n.removeprefix(sample.TEST_PREFIX)[:-4] for n in names[split]}
        assert on_disk <= keys
        assert {(split, k) for k in keys - on_disk} == {
            f for f in SAMPLE_FAULTS["missing_clip"] if f[0] == split}
    ((split, key),) = SAMPLE_FAULTS["truncated_clip"]
    with pytest.raises(av.error.FFmpegError):
        decode(clip_path(full_sample, split, key))
    ((split, key),) = SAMPLE_FAULTS["no_audio"]
    frames, audio, _ = decode(clip_path(full_sample, split, key))
    assert audio is None and len(frames) > 5
    ((split, key),) = SAMPLE_FAULTS["long_clip"]
    _, audio, rate = decode(clip_path(full_sample, split, key))
    assert audio.shape[1] / rate > 35.0


def test_write_clip_round_trip(tmp_path):
    for channels, rate in [(1, 16000), (1, 22050), (2, 44100), (6, 48000)]:
        tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
        audio = np.repeat(tone[:, None], channels, axis=1) if channels > 1 else tone
        path = write_clip(tmp_path / f"a{channels}_{rate}.mp4", audio=audio, sample_rate=rate)
        frames, decoded, decoded_rate = decode(path)
        assert frames is None and decoded_rate == rate and decoded.shape[0] == channels
        assert rate <= decoded.shape[1] <= rate + 3 * 1024  # AAC priming and padding
        spectrum = np.abs(np.fft.rfft(decoded[0]))
        assert abs(np.argmax(spectrum) * rate / len(decoded[0]) - 440) < 5
    video = np.zeros((7, 33, 45, 3), np.uint8)
    video[:, 10:20, 10:30] = (200, 60, 30)
    path = write_clip(tmp_path / "v.mp4", frames=video, fps=12)
    frames, audio, _ = decode(path)
    assert audio is None and frames.shape == (7, 34, 46, 3)  # odd sizes padded for yuv420p
    assert np.abs(frames[:, :33, :45].astype(int) - video).mean() < 8
    with pytest.raises(ValueError, match="frames, audio or both"):
        write_clip(tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="channels"):
        write_clip(tmp_path / "x.mp4", audio=np.zeros((100, 3), np.float32))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        write_clip(tmp_path / "x.mp4", audio=np.full(100, 2.0, np.float32))


def _face_crop(frames, size=24):
    """Grey face crop from the skin-coloured pixels, averaged over the frames."""
    crops = []
    for frame in frames:
        r, g, b = (frame[..., i].astype(int) for i in range(3))
        ys, xs = np.nonzero((r > 100) & (r - b > 40) & (r > g))
        face = frame[ys.min():ys.max() + 1, xs.min():xs.max() + 1].mean(axis=-1)
        rows = np.linspace(0, face.shape[0] - 1, size).astype(int)
        cols = np.linspace(0, face.shape[1] - 1, size).astype(int)
        crops.append(face[np.ix_(rows, cols)])
    return np.mean(crops, axis=0).ravel()


def _voice_features(audio, rate):
    mono = audio.mean(axis=0)
    halves = np.array_split(mono, 2)
    pitches = []
    for part in (mono, *halves):
        spectrum = np.abs(np.fft.rfft(part))
        freqs = np.fft.rfftfreq(len(part), 1 / rate)
        band = (freqs > 70) & (freqs < 500)
        pitches.append(freqs[band][np.argmax(spectrum[band])])
    pitch, first, second = np.log(pitches)
    return [pitch, second - first, np.log(np.sqrt(np.mean(mono**2)) + 1e-6)]


def test_each_modality_learnable_and_fusion_better(full_sample):
    media_faults = {f for name in ("missing_clip", "truncated_clip", "no_audio")
                    for f in SAMPLE_FAULTS[name]}
    texts, voices, faces, labels = [], [], [], []
    for split in SPLITS:
        for row in read_rows(full_sample, split):
            if (split, key_of(row)) in media_faults:
                continue
            frames, audio, rate = decode(clip_path(full_sample, split, key_of(row)), 10)
            texts.append(row["Utterance"])
            voices.append(_voice_features(audio, rate))
            faces.append(_face_crop(frames))
            labels.append(EMOTIONS.index(row["Emotion"]))
    vocabulary = sorted({w for t in texts for w in re.findall(r"[a-z]+", t.lower())})
    words = np.array([[w in set(re.findall(r"[a-z]+", t.lower())) for w in vocabulary]
                      for t in texts], np.float32)
    labels = np.array(labels)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    def linear(*steps):
        return make_pipeline(*steps, LogisticRegression(max_iter=1000))

    models = {
        "text": (words, linear()),
        "audio": (np.array(voices), linear(StandardScaler())),
        "video": (np.array(faces), linear(StandardScaler(), PCA(10))),
    }
    log_probs, accuracy = 0.0, {}
    with threadpool_limits(1):
        for name, (features, model) in models.items():
            probs = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")
            accuracy[name] = float(np.mean(probs.argmax(1) == labels))
            log_probs = log_probs + np.log(probs + 1e-6)  # independent views: product of experts
    accuracy["fused"] = float(np.mean(log_probs.argmax(1) == labels))
    chance = np.bincount(labels).max() / len(labels)
    print("accuracy", accuracy, "majority", chance)
    for name in ("text", "audio", "video"):
        assert accuracy[name] > chance + 0.15, (name, accuracy)
    assert accuracy["fused"] > max(accuracy[n] for n in ("text", "audio", "video")) + 0.05
