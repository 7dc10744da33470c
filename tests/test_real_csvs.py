"""Tests on the real MELD CSVs (``<repo>/../shared/meld``): counts, labels, clean text.

Expected values are computed independently with the csv module and compared with what
the ``text`` config of the TFDS builder yields.
"""

import collections
import csv
import pathlib

import pytest
import tensorflow_datasets as tfds

from meld_tf.data.text_repair import has_encoding_damage, read_meld_csv
from meld_tf.labels import EMOTIONS, SENTIMENTS

MELD_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "meld"
CSV_NAMES = {"train": "train_sent_emo.csv", "validation": "dev_sent_emo.csv",
             "test": "test_sent_emo.csv"}
ROWS = {"train": 9989, "validation": 1109, "test": 2610}
TEST_EMOTIONS = {"neutral": 1256, "joy": 402, "anger": 345, "surprise": 281, "sadness": 208,
                 "disgust": 68, "fear": 50}

pytestmark = pytest.mark.skipif(
    not all((MELD_DIR / name).is_file() for name in CSV_NAMES.values()),
    reason=f"the real MELD CSVs are not in {MELD_DIR} (shared/meld beside the repository)",
)


def _raw_rows(split):
    with open(MELD_DIR / CSV_NAMES[split], encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``split -> list of examples`` of the ``text`` config built from the real CSVs."""
    from tfds_meld.meld.meld_dataset_builder import Builder

    builder = Builder(config="text", data_dir=str(tmp_path_factory.mktemp("tfds")))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(MELD_DIR))
    )
    return {split: list(tfds.as_numpy(builder.as_dataset(split=split))) for split in ROWS}


def test_row_counts(built):
    assert {split: len(examples) for split, examples in built.items()} == ROWS
    assert {split: len(_raw_rows(split)) for split in ROWS} == ROWS


def test_class_counts(built):
    for split, examples in built.items():
        raw = _raw_rows(split)
        expected_emotions = collections.Counter(r["Emotion"] for r in raw)
        expected_sentiments = collections.Counter(r["Sentiment"] for r in raw)
        assert collections.Counter(EMOTIONS[e["emotion"]] for e in examples) == expected_emotions
        got = collections.Counter(SENTIMENTS[e["sentiment"]] for e in examples)
        assert got == expected_sentiments
    assert collections.Counter(EMOTIONS[e["emotion"]] for e in built["test"]) == TEST_EMOTIONS


def test_text_is_clean(built):
    for examples in built.values():
        for example in examples:
            for field in ("text", "speaker"):
                value = example[field].decode("utf-8")
                assert not has_encoding_damage(value), value
                assert not any("\x80" <= ch <= "\x9f" or ch == "\xa0" for ch in value)
                assert "â€" not in value and "Ã" not in value


def test_examples_match_the_csv(built):
    """Every (dialogue, utterance) appears once with its own text: nothing merged or lost."""
    for split, examples in built.items():
        raw = {(int(r["Dialogue_ID"]), int(r["Utterance_ID"])): r for r in _raw_rows(split)}
        got = {(int(e["dialogue_id"]), int(e["utterance_id"])): e for e in examples}
        assert got.keys() == raw.keys()
        for key in list(raw)[:: max(1, len(raw) // 200)]:
            assert got[key]["text"].decode() == raw[key]["Utterance"].strip()


def test_duplicated_sr_no_does_not_merge_rows():
    rows = read_meld_csv(MELD_DIR / CSV_NAMES["train"])
    counts = collections.Counter(r["sr_no"] for r in rows)
    duplicated = {sr for sr, n in counts.items() if n > 1}
    assert len(duplicated) == 57  # as documented in shared/meld/README.md
    assert len(rows) == ROWS["train"]
    for sr in list(duplicated)[:5]:
        same = [r for r in rows if r["sr_no"] == sr]
        assert len({(r["dialogue_id"], r["utterance_id"]) for r in same}) == len(same)


def test_timestamps_parse(built):
    for examples in built.values():
        for example in examples:
            assert 0 <= example["start_time"] <= example["end_time"], example
    # One-digit hours and the two-digit-millisecond rows (a decimal fraction: ",28" = 0.28 s).
    odd = 0
    for split, examples in built.items():
        by_key = {(int(e["dialogue_id"]), int(e["utterance_id"])): e for e in examples}
        for row in _raw_rows(split):
            for column, field in (("StartTime", "start_time"), ("EndTime", "end_time")):
                clock, fraction = row[column].split(",")
                if len(fraction) == 3 and len(clock) == 8:
                    continue
                odd += 1
                hours, minutes, seconds = (int(v) for v in clock.split(":"))
                expected = hours * 3600 + minutes * 60 + seconds + float("0." + fraction)
                example = by_key[(int(row["Dialogue_ID"]), int(row["Utterance_ID"]))]
                assert example[field] == pytest.approx(expected, abs=1e-3), row
    assert odd > 3000


C1 = {"’": "\x92", "‘": "\x91", "“": "\x93", "”": "\x94", "—": "\x97", "–": "\x96", "…": "\x85"}


@pytest.mark.parametrize("damage", ["c1_controls", "mojibake", "cp1252_bytes"])
def test_repairs_a_mis_encoded_copy(tmp_path, damage):
    """A copy with C1 controls / mojibake / cp1252 bytes reads back as the clean text."""
    clean_path = MELD_DIR / CSV_NAMES["validation"]
    text = clean_path.read_text(encoding="utf-8")
    if damage == "c1_controls":
        damaged = text.translate(str.maketrans(C1)).encode("utf-8")
    elif damage == "mojibake":  # UTF-8 bytes read as cp1252 (undefined bytes kept as C1)
        damaged = "".join(
            bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode()
        ).encode("utf-8")
    else:
        damaged = text.encode("cp1252")
    assert damaged != text.encode("utf-8")
    copy = tmp_path / "dev_sent_emo.csv"
    copy.write_bytes(damaged)
    repaired = read_meld_csv(copy)
    clean = read_meld_csv(clean_path)
    assert [r["text"] for r in repaired] == [r["text"] for r in clean]
    assert [r["speaker"] for r in repaired] == [r["speaker"] for r in clean]
