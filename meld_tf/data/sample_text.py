"""The text of the synthetic MELD sample's CSVs, with the real archive's text faults.

* :func:`make_text`: an utterance worded for an emotion (per-emotion templates and cue
  words, curly apostrophes like MELD's);
* :func:`fault_text`: the punctuation faults of real copies (C1 control characters,
  UTF-8 read as cp1252);
* :func:`timestamp`: a ``StartTime`` / ``EndTime`` value, with or without the one-digit
  hours and two-digit milliseconds of some rows.
"""

SPEAKERS = ("Chandler", "Joey", "Monica", "Phoebe", "Rachel", "Ross")
THINGS = ("the couch", "the apartment", "Central Perk", "the turkey", "the museum",
          "your sweater", "the duck", "the wedding", "the date", "the audition")
TEMPLATES = {
    "anger": ("I’m so {cue} at you right now!", "Stop it! This is {cue}!",
              "Are you kidding me? I’m {cue} about {thing}!", "Get out! I’m {cue}!"),
    "disgust": ("Ew, {thing} is {cue}!", "That’s {cue}, {name}.",
                "Ugh, {cue}. Just {cue}.", "Eww! That is so {cue}!"),
    "fear": ("I’m {cue}, {name}, what if {thing} falls?", "Oh God, I’m really {cue}!",
             "Help! This is {cue}!", "I’m too {cue} to look at {thing}."),
    "joy": ("This is {cue}!", "Oh {name}, I love it, it’s {cue}!",
            "{thing} is {cue}! Yay!", "We did it! {cue}!"),
    "neutral": ("Okay, so {thing} is at six.", "{name}, did you see {thing}?",
                "I’ll get {thing} later.", "Yeah, we’re going to {thing} tomorrow."),
    "sadness": ("I’m so {cue}, {name}.", "It’s over. I feel {cue}.",
                "I miss {thing}, it’s {cue}.", "Nobody cares, I’m {cue}."),
    "surprise": ("What?! {cue}!", "Oh my God! {cue}, {thing}?!",
                 "{cue}! {name}, really?!", "Wait, {cue}?! You’re kidding!"),
}
CUE_WORDS = {
    "anger": ("mad", "furious", "angry", "sick of this"),
    "disgust": ("gross", "disgusting", "nasty", "revolting"),
    "fear": ("scared", "terrified", "afraid", "nervous"),
    "joy": ("wonderful", "great", "amazing", "fantastic"),
    "neutral": ("",),
    "sadness": ("sad", "miserable", "lonely", "heartbroken"),
    "surprise": ("No way", "Whoa", "Seriously", "Unbelievable"),
}
# The real archive's punctuation as C1 control characters (pre-2020 copies, MELD.Raw).
C1_PUNCTUATION = {"’": "\x92", "‘": "\x91", "“": "\x93", "”": "\x94", "—": "\x97", "…": "\x85"}


def make_text(emotion, rng):
    """One utterance whose wording shows ``emotion`` (curly apostrophes, like MELD)."""
    template = str(rng.choice(TEMPLATES[emotion]))
    cue = str(rng.choice(CUE_WORDS[emotion]))
    return template.format(cue=cue, name=str(rng.choice(SPEAKERS)), thing=str(rng.choice(THINGS)))


def fault_text(text, faults):
    """``text`` with the text faults among ``faults`` (``c1_controls``, ``mojibake``)."""
    if "c1_controls" in faults or "mojibake" in faults:
        if "’" not in text:
            text = "Well, he’s here. " + text
    if "c1_controls" in faults:
        text = text.translate(str.maketrans(C1_PUNCTUATION))
    if "mojibake" in faults:
        text = text.replace("’", "’".encode().decode("cp1252"))
    return text


def timestamp(seconds, one_digit_hour=False, two_digit_millis=False):
    """``seconds`` as MELD writes a time, ``HH:MM:SS,mmm``; ``one_digit_hour`` and
    ``two_digit_millis`` give the faults of some rows (``H:MM:SS,mm``)."""
    millis = int(round(seconds * 1000))
    if two_digit_millis:
        millis -= millis % 10
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    hour = f"{hours}" if one_digit_hour else f"{hours:02d}"
    frac = f"{millis // 10:02d}" if two_digit_millis else f"{millis:03d}"
    return f"{hour}:{minutes:02d}:{secs:02d},{frac}"
