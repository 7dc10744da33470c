"""A small synthetic MELD archive: the built-in default dataset and test fixture.

`generate_sample` writes a tree laid out exactly like the unpacked ``MELD.Raw`` archive
(three ``*_sent_emo.csv`` files and three folders of ``dia{D}_utt{U}.mp4`` clips with h264
video and AAC audio), with the faults of the real archive at fixed keys (`SAMPLE_FAULTS`).

Every utterance has an emotion and a sentiment. Each modality independently shows the
true emotion with probability ``SampleConfig.show_prob`` and a random other emotion
otherwise, so every modality alone is right only part of the time and a model that fuses
all three can beat any single one:

* text: per-emotion templates and cue words ("This is wonderful!"; `sample_text`),
* audio: a voice-like harmonic signal whose pitch, contour, vibrato, energy and syllable
  tempo depend on the emotion (`sample_media`),
* video: a drawn face whose mouth, brows and eyes depend on the emotion (`sample_media`).
"""

import concurrent.futures
import csv
import dataclasses
import hashlib
import pathlib

import numpy as np

from meld_tf.data import sample_media, sample_text
from meld_tf.data.progress import progress_bar
from meld_tf.data.sample_media import draw_face, synth_voice, write_clip
from meld_tf.data.sample_text import SPEAKERS, fault_text, make_text, timestamp
from meld_tf.labels import EMOTION_SENTIMENT, EMOTIONS

__all__ = [
    "SAMPLE_FAULTS",
    "SampleConfig",
    "draw_face",
    "generate_sample",
    "sample_fingerprint",
    "synth_voice",
    "write_clip",
]

CSV_FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
CLIP_DIRS = {"train": "train_splits", "dev": "dev_splits_complete",
             "test": "output_repeated_splits_test"}
TEST_PREFIX = "final_videos_test"
COLUMNS = ("Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
           "Utterance_ID", "Season", "Episode", "StartTime", "EndTime")

SAMPLE_FAULTS = {
    "c1_controls": (("train", "dia0_utt1"), ("train", "dia1_utt3"), ("test", "dia0_utt2")),
    "mojibake": (("train", "dia0_utt3"), ("dev", "dia0_utt1")),
    "two_digit_millis": (("train", "dia0_utt4"), ("test", "dia0_utt4")),
    "duplicate_sr_no": (("train", "dia1_utt2"),),
    "missing_clip": (("dev", "dia0_utt3"),),
    "truncated_clip": (("train", "dia0_utt2"),),
    "no_audio": (("train", "dia1_utt1"),),
    "long_clip": (("test", "dia0_utt1"),),
    "zero_duration": (("test", "dia0_utt3"),),
    "final_videos_prefix": (("test", "dia0_utt0"), ("test", "dia0_utt2"), ("test", "dia1_utt1")),
    "one_digit_hour": (("train", "dia1_utt0"), ("train", "dia1_utt4"), ("dev", "dia1_utt0")),
}
"""Which rows carry which fault of the real archive: fault name -> tuple of (split, key).

``split`` is the MELD file split (``train``, ``dev``, ``test``; TFDS calls dev
``validation``) and ``key`` is ``dia{D}_utt{U}``. The keys exist for any seed and any
``num_dialogues >= SampleConfig.min_dialogues``. Every entry is exact, except
``one_digit_hour``: like MELD it covers about a quarter of the rows, namely every row of
each dialogue whose id is 1 modulo ``SampleConfig.one_digit_hour_every`` (4), in every
split; the entry lists rows that carry it at any size. ``duplicate_sr_no`` is the row
whose ``Sr No.`` repeats the row before it; ``final_videos_prefix`` clips are named
``final_videos_testdia{D}_utt{U}.mp4``; the ``long_clip`` lasts
``SampleConfig.long_clip_seconds`` although its CSV times are ordinary.
"""


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """Every size and rate of the synthetic sample.

    Args:
        dev_fraction, test_fraction: share of dialogues in dev and test (at least one each;
            the rest is train).
        min_dialogues: smallest ``num_dialogues`` that holds every fault of `SAMPLE_FAULTS`.
        utterances_per_dialogue: inclusive (low, high) range.
        emotion_weights: prior of each emotion, in the order of ``EMOTIONS``.
        show_prob: probability that a modality shows the true emotion.
        frame_size: video (height, width).
        fps: video frame rate.
        clip_seconds: (low, high) clip length.
        long_clip_seconds, long_clip_fps: the one mis-cut long clip.
        audio_formats: (sample rate, channels, weight) choices for each clip's audio.
        one_digit_hour_every: dialogues whose id is 1 modulo this use one-digit hours.
    """

    dev_fraction: float = 0.1
    test_fraction: float = 0.2
    min_dialogues: int = 5
    utterances_per_dialogue: tuple = (5, 15)
    emotion_weights: tuple = (0.12, 0.08, 0.08, 0.18, 0.30, 0.11, 0.13)
    show_prob: float = 0.65
    frame_size: tuple = (120, 160)
    fps: int = 10
    clip_seconds: tuple = (1.0, 4.0)
    long_clip_seconds: float = 40.0
    long_clip_fps: int = 2
    audio_formats: tuple = ((48000, 1, 0.35), (48000, 2, 0.25), (48000, 6, 0.1),
                            (44100, 2, 0.1), (16000, 1, 0.1), (22050, 1, 0.1))
    one_digit_hour_every: int = 4


def split_sizes(num_dialogues, config):
    """Number of dialogues in train, dev and test."""
    if num_dialogues < config.min_dialogues:
        raise ValueError(
            f"num_dialogues={num_dialogues} is too small to hold every sample fault; "
            f"use at least {config.min_dialogues}.")
    dev = max(1, round(num_dialogues * config.dev_fraction))
    test = max(2, round(num_dialogues * config.test_fraction))
    return {"train": num_dialogues - dev - test, "dev": dev, "test": test}


def _faults_of(split, key):
    return {name for name, keys in SAMPLE_FAULTS.items() if (split, key) in keys}


def _shown(emotion, rng, config):
    """The emotion one modality shows: the true one, or a random other one."""
    if rng.random() < config.show_prob:
        return emotion
    return str(rng.choice([e for e in EMOTIONS if e != emotion]))


def _plan_split(split, num_dialogues, seed, config):
    """Rows of one split (dicts of CSV values plus the media plan), in file order.

    Each dialogue has its own random stream, so a smaller sample's dialogues are the
    same as the first dialogues of a bigger one with the same seed.
    """
    rows = []
    weights = np.asarray(config.emotion_weights, dtype=np.float64)
    for dialogue in range(num_dialogues):
        rng = np.random.default_rng([seed, tuple(CSV_FILES).index(split), dialogue])
        count = int(rng.integers(config.utterances_per_dialogue[0],
                                 config.utterances_per_dialogue[1] + 1))
        season, episode = int(rng.integers(1, 10)), int(rng.integers(1, 25))
        clock = float(rng.uniform(30.0, 1200.0))
        one_digit = dialogue % config.one_digit_hour_every == 1
        for utterance in range(count):
            key = f"dia{dialogue}_utt{utterance}"
            faults = _faults_of(split, key)
            emotion = str(rng.choice(EMOTIONS, p=weights / weights.sum()))
            sentiment = EMOTION_SENTIMENT[emotion] or str(rng.choice(["negative", "positive"]))
            shown = {m: _shown(emotion, rng, config) for m in ("text", "audio", "video")}
            seconds = float(rng.uniform(*config.clip_seconds))
            start, end = clock, clock + (0.0 if "zero_duration" in faults else seconds)
            clock += seconds + float(rng.uniform(0.2, 3.0))
            two_digit = "two_digit_millis" in faults
            rows.append({
                "Utterance": fault_text(make_text(shown["text"], rng), faults),
                "Speaker": str(rng.choice(SPEAKERS)), "Emotion": emotion, "Sentiment": sentiment,
                "Dialogue_ID": dialogue, "Utterance_ID": utterance,
                "Season": season, "Episode": episode,
                "StartTime": timestamp(start, one_digit),
                "EndTime": timestamp(end, one_digit, two_digit),
                "key": key, "faults": faults, "shown": shown, "seconds": seconds,
                "media_seed": int(rng.integers(2**31)),
            })
    serial = 0
    for row in rows:
        serial += 0 if "duplicate_sr_no" in row["faults"] else 1
        row["Sr No."] = serial
        serial += 1 if "duplicate_sr_no" in row["faults"] else 0
    return rows


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row[column] for column in COLUMNS])


def _clip_name(row):
    prefix = TEST_PREFIX if "final_videos_prefix" in row["faults"] else ""
    return f"{prefix}{row['key']}.mp4"


def _write_row_clip(path, row, config):
    """Synthesise and write the clip of one row (its own seed: order independent)."""
    rng = np.random.default_rng(row["media_seed"])
    faults = row["faults"]
    long_clip = "long_clip" in faults
    seconds = config.long_clip_seconds if long_clip else row["seconds"]
    fps = config.long_clip_fps if long_clip else config.fps
    rates, channels, weights = zip(*config.audio_formats)
    choice = int(rng.choice(len(rates), p=np.divide(weights, sum(weights))))
    rate, num_channels = rates[choice], channels[choice]
    if long_clip:  # keep it cheap: the smallest audio format
        rate, num_channels = min(zip(rates, channels), key=lambda f: f[0] * f[1])
    frames = draw_face(row["shown"]["video"], config.frame_size, rng,
                       num_frames=max(1, int(round(seconds * fps))))
    audio = None
    if "no_audio" not in faults:
        voice = synth_voice(row["shown"]["audio"], seconds, rate, rng)
        audio = sample_media.spread_channels(voice, num_channels)
    write_clip(path, frames, audio, fps=fps, sample_rate=rate)
    if "truncated_clip" in faults:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


def generate_sample(root, seed=0, num_dialogues=40, config=None, clips=True, workers=2):
    """Write a synthetic MELD tree (CSVs and clips) into ``root`` and return its path.

    Args:
        root: folder to write into (created if missing).
        seed: the same seed gives the same CSV bytes and the same decoded media.
        num_dialogues: dialogues over train, dev and test (at least
            ``config.min_dialogues``); 40 gives about 400 utterances (28/4/8 dialogues).
        config: a `SampleConfig`; the default when None.
        clips: False writes only the three CSVs (the same bytes; fast, for text-only use).
        workers: threads writing clips (FFmpeg, NumPy and OpenCV release the GIL); the
            output does not depend on it.

    Returns:
        ``pathlib.Path`` of ``root``.
    """
    config = config or SampleConfig()
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    plans = {split: _plan_split(split, count, seed, config)
             for split, count in split_sizes(num_dialogues, config).items()}
    jobs = []
    for split, rows in plans.items():
        _write_csv(root / CSV_FILES[split], rows)
        if clips:
            (root / CLIP_DIRS[split]).mkdir(exist_ok=True)
            jobs += [(split, row) for row in rows if "missing_clip" not in row["faults"]]
    def write(job):
        split, row = job
        _write_row_clip(root / CLIP_DIRS[split] / _clip_name(row), row, config)

    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        for _ in progress_bar(pool.map(write, jobs), total=len(jobs), desc="MELD sample clips",
                              unit="clip"):
            pass
    return root


def sample_fingerprint(num_dialogues=40, seed=0, config=None):
    """The sample's version: 12 hex digits that change with anything that changes its bytes.

    A hash of the generator's code (this module, `sample_text` and `sample_media`), its
    `SampleConfig`, ``num_dialogues`` and ``seed``. A sample tree or a TFDS build made under
    another fingerprint is stale and is made again.
    """
    digest = hashlib.sha256()
    for module_file in (__file__, sample_text.__file__, sample_media.__file__):
        digest.update(pathlib.Path(module_file).read_bytes())
    digest.update(repr((config or SampleConfig(), num_dialogues, seed)).encode())
    return digest.hexdigest()[:12]
