"""Reading the MELD annotation CSVs: text repair, timestamps and row parsing.

MELD's CSVs circulate in three encodings of the same punctuation (see
``/work/shared/meld/README.md``): clean UTF-8 (``he’s``), C1 control characters left over
from Windows-1252 (``he\\x92s``, U+0085 for ``…``) and cp1252 mojibake of UTF-8 (``heâ€™s``).
:func:`repair_text` maps all three to the clean text; :func:`read_meld_csv` reads one CSV
into plain row dicts, with a clear error naming the file and line of any malformed row.
"""

import csv
import io
import re

from meld_tf.labels import EMOTIONS, SENTIMENTS

COLUMNS = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
)  # fmt: skip

# Windows-1252 bytes 0x80-0x9F as characters (five byte values are undefined there).
_CP1252_HIGH = {}
for _byte in range(0x80, 0xA0):
    try:
        _CP1252_HIGH[bytes([_byte]).decode("cp1252")] = _byte
    except UnicodeDecodeError:
        pass

# A run of characters that could be UTF-8 bytes mis-read as cp1252 or Latin-1.
_SUSPECT_RUN = re.compile("[\u0080-\u00ff" + re.escape("".join(_CP1252_HIGH)) + "]{2,}")
_C1_CONTROL = re.compile("[\u0080-\u009f]")
_TIMESTAMP = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?")


def _utf8_length(lead):
    """Length of the UTF-8 sequence a lead byte starts (0 if it cannot start one)."""
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _fix_mojibake_run(match):
    """Decode every valid UTF-8 sequence hidden in a run; keep the other characters."""
    run = match.group(0)
    # The bytes the run was decoded from (cp1252 specials or Latin-1 code points).
    data = [_CP1252_HIGH.get(ch, ord(ch)) for ch in run]
    out, i = [], 0
    while i < len(run):
        length = _utf8_length(data[i])
        if length:
            try:
                out.append(bytes(data[i : i + length]).decode("utf-8"))
                i += length
                continue
            except UnicodeDecodeError:
                pass
        out.append(run[i])  # genuine text such as the "é" of "café": keep it
        i += 1
    return "".join(out)


def _fix_c1_control(match):
    try:
        return bytes([ord(match.group(0))]).decode("cp1252")
    except UnicodeDecodeError:
        return ""  # 0x81, 0x8D, 0x8F, 0x90, 0x9D carry no character in cp1252


def repair_text(text):
    """Return MELD text with its punctuation repaired to clean Unicode.

    Repairs cp1252/Latin-1 mojibake of UTF-8 (``heâ€™s`` -> ``he’s``, also applied twice
    over), C1 control characters from cp1252 (``he\\x92s`` -> ``he’s``, U+0085 -> ``…``),
    turns no-break spaces into spaces and strips the ends. Clean text is returned unchanged
    (apart from stripping).
    """
    for _ in range(3):  # undo double encodings, stop when nothing changes
        fixed = _SUSPECT_RUN.sub(_fix_mojibake_run, text)
        if fixed == text:
            break
        text = fixed
    text = _C1_CONTROL.sub(_fix_c1_control, text)
    return text.replace("\u00a0", " ").strip()


def has_encoding_damage(text):
    """True if ``text`` still holds C1 controls, no-break spaces or cp1252 mojibake."""
    return bool(_C1_CONTROL.search(text) or "\u00a0" in text or repair_text(text) != text.strip())


def parse_timestamp(value):
    """Seconds (float) of a MELD timestamp ``h:mm:ss,mmm``.

    Accepts one- or two-digit hours and a fraction of one to three digits, read as a
    decimal fraction (``00:06:47,28`` is 47.28 s). Raises ``ValueError`` naming the value.
    """
    match = _TIMESTAMP.fullmatch(value.strip())
    if not match:
        raise ValueError(f"Malformed timestamp {value!r}: expected 'hh:mm:ss,mmm'.")
    hours, minutes, seconds, fraction = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _decode_csv_bytes(data):
    """UTF-8 (with or without BOM); old Windows copies fall back to cp1252/Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "".join(
            bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in data
        )


def _parse_row(row):
    """One CSV row dict -> a clean example dict; raises ValueError on bad values."""
    emotion = row["Emotion"].strip().lower()
    sentiment = row["Sentiment"].strip().lower()
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {row['Emotion']!r}; expected one of {EMOTIONS}")
    if sentiment not in SENTIMENTS:
        raise ValueError(f"unknown sentiment {row['Sentiment']!r}; expected one of {SENTIMENTS}")
    parsed = {
        "text": repair_text(row["Utterance"]),
        "speaker": repair_text(row["Speaker"]),
        "emotion": emotion,
        "sentiment": sentiment,
        "start_time": parse_timestamp(row["StartTime"]),
        "end_time": parse_timestamp(row["EndTime"]),
    }
    for name, column in (
        ("sr_no", "Sr No."), ("dialogue_id", "Dialogue_ID"), ("utterance_id", "Utterance_ID"),
        ("season", "Season"), ("episode", "Episode"),
    ):  # fmt: skip
        try:
            parsed[name] = int(row[column])
        except (TypeError, ValueError):
            raise ValueError(f"column {column!r} is {row[column]!r}, not an integer") from None
    return parsed


def read_meld_csv(path):
    """Read one MELD CSV into a list of row dicts, in file order.

    Each dict has ``sr_no``, ``dialogue_id``, ``utterance_id``, ``season``, ``episode``
    (int), ``speaker``, ``text`` (repaired), ``emotion``, ``sentiment`` (lower-case label
    names), ``start_time``, ``end_time`` (float seconds). Rows are identified by
    (dialogue_id, utterance_id); ``Sr No.`` is not unique in MELD and is only carried along.

    Raises:
        ValueError: naming the file and line of a malformed row, a missing column or a
            (dialogue_id, utterance_id) pair that occurs twice.
    """
    with open(path, "rb") as f:
        text = _decode_csv_bytes(f.read())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(
            f"{path}: missing columns {missing}; a MELD CSV has columns {list(COLUMNS)}."
        )
    rows, seen = [], {}
    for row in reader:
        line = reader.line_num
        if None in row or any(row[c] is None for c in COLUMNS):
            raise ValueError(f"{path}, line {line}: wrong number of fields: {row}")
        try:
            parsed = _parse_row(row)
        except ValueError as error:
            raise ValueError(f"{path}, line {line}: {error}") from None
        key = (parsed["dialogue_id"], parsed["utterance_id"])
        if key in seen:
            raise ValueError(
                f"{path}, line {line}: dia{key[0]}_utt{key[1]} already appears on line "
                f"{seen[key]}; each (Dialogue_ID, Utterance_ID) must be unique."
            )
        seen[key] = line
        rows.append(parsed)
    return rows
