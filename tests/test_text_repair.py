"""Tests for meld_tf.data.text_repair: text repair, timestamps, CSV reading."""

import pytest

from meld_tf.data.text_repair import (
    has_encoding_damage,
    parse_timestamp,
    read_meld_csv,
    repair_text,
)

HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,"
HEADER += "StartTime,EndTime\r\n"


@pytest.mark.parametrize(
    "damaged, clean",
    [
        ("he\x92s", "he’s"),  # C1 control from cp1252
        ("wait\x85", "wait…"),
        ("\x93Hi\x94 \x91a\x92 \x96 \x97", "“Hi” ‘a’ – —"),
        ("heâ€™s", "he’s"),  # cp1252 mojibake of UTF-8
        ("â€œHi!â€\x9d", "“Hi!”"),  # undefined cp1252 byte kept as a C1 control
        ("he\u00e2\u0080\u0099s", "he’s"),  # Latin-1 mojibake
        ("heÃ¢â‚¬â„¢s", "he’s"),  # double mojibake
        ("’â€™", "’’"),  # clean and damaged side by side
        ("\u00a0 no\u00a0break \u00a0", "no break"),
        ("  café, señor — “ok” …  ", "café, señor — “ok” …"),  # clean text is kept
    ],
)
def test_repair_text(damaged, clean):
    assert repair_text(damaged) == clean
    assert not has_encoding_damage(repair_text(damaged))


def test_has_encoding_damage():
    assert has_encoding_damage("he\x92s")
    assert has_encoding_damage("heâ€™s")
    assert not has_encoding_damage("he’s café")


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("00:16:16,059", 976.059),
        ("0:15:41,774", 941.774),  # one-digit hour
        ("00:06:47,28", 407.28),  # two-digit fraction
        ("1:00:00,5", 3600.5),
        ("00:00:01", 1.0),
    ],
)
def test_parse_timestamp(value, seconds):
    assert parse_timestamp(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "16:16,059", "00:16:16;059", "aa:bb:cc,ddd"])
def test_parse_timestamp_rejects(value):
    with pytest.raises(ValueError, match="Malformed timestamp"):
        parse_timestamp(value)


def _write(tmp_path, body, encoding="utf-8"):
    path = tmp_path / "x_sent_emo.csv"
    path.write_bytes((HEADER + body).encode(encoding))
    return path


def test_read_meld_csv_rows(tmp_path):
    path = _write(
        tmp_path,
        '1,"Oh, he\x92s here.",Ross,Joy,Positive,3,0,1,2,"0:00:01,5","00:00:02,250"\r\n'
        '1,Hi\u00a0there,Rachel\x85,neutral,neutral,3,1,1,2,"00:00:03,000","00:00:03,000"\r\n',
    )
    rows = read_meld_csv(path)
    assert len(rows) == 2  # the duplicated Sr No. does not merge rows
    first, second = rows
    assert first["text"] == "Oh, he’s here."
    assert (first["emotion"], first["sentiment"]) == ("joy", "positive")
    assert (first["dialogue_id"], first["utterance_id"], first["season"]) == (3, 0, 1)
    assert first["start_time"] == pytest.approx(1.5)
    assert first["end_time"] == pytest.approx(2.25)
    assert second["text"] == "Hi there"
    assert second["speaker"] == "Rachel…"
    assert second["start_time"] == second["end_time"]  # zero duration is kept


def test_read_meld_csv_cp1252_bytes(tmp_path):
    """An old Windows copy stored as cp1252 bytes reads as clean text."""
    row = '1,"I\x92m \x93fine\x94",Joey,joy,positive,0,0,1,1,"0:0:1,0","0:0:2,0"\r\n'
    path = _write(tmp_path, row)
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    assert read_meld_csv(path)[0]["text"] == "I’m “fine”"


@pytest.mark.parametrize(
    "row, message",
    [
        ('1,Hi,Ross,happy,positive,0,0,1,1,"0:0:1,0","0:0:2,0"', "unknown emotion 'happy'"),
        ('1,Hi,Ross,joy,positive,x,0,1,1,"0:0:1,0","0:0:2,0"', "Dialogue_ID"),
        ('1,Hi,Ross,joy,positive,0,0,1,1,"0:0:1,0","bad"', "Malformed timestamp 'bad'"),
        ("1,Hi,Ross,joy,positive,0,0", "wrong number of fields"),
    ],
)
def test_read_meld_csv_malformed_row(tmp_path, row, message):
    good = '1,Hi,Ross,joy,positive,0,9,1,1,"0:0:1,0","0:0:2,0"\r\n'
    path = _write(tmp_path, good + row + "\r\n")
    with pytest.raises(ValueError, match=message) as error:
        read_meld_csv(path)
    assert f"{path}, line 3" in str(error.value)


def test_read_meld_csv_duplicate_key(tmp_path):
    row = '1,Hi,Ross,joy,positive,4,2,1,1,"0:0:1,0","0:0:2,0"\r\n'
    path = _write(tmp_path, row + row)
    with pytest.raises(ValueError, match="dia4_utt2 already appears on line 2"):
        read_meld_csv(path)


def test_read_meld_csv_missing_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Utterance,Speaker\nhi,Ross\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns"):
        read_meld_csv(path)
