"""Tests for meld_tf.data.sample_text: the sample's text faults are those the builder repairs."""

import numpy as np
import pytest

from meld_tf.data.sample_text import fault_text, make_text, timestamp
from meld_tf.data.text_repair import has_encoding_damage, parse_timestamp, repair_text
from meld_tf.labels import EMOTIONS


@pytest.mark.parametrize("faults", [{"c1_controls"}, {"mojibake"}])
def test_text_faults_are_repaired_to_the_clean_text(faults):
    rng = np.random.default_rng(0)
    for emotion in EMOTIONS:
        clean = fault_text(make_text(emotion, rng), set())  # no fault: unchanged
        damaged = fault_text(clean, faults)
        assert has_encoding_damage(damaged) and damaged != clean
        assert repair_text(damaged) in (clean, "Well, he’s here. " + clean)


@pytest.mark.parametrize(
    "one_digit_hour, two_digit_millis, text",
    [(False, False, "01:02:03,456"), (True, False, "1:02:03,456"), (False, True, "01:02:03,45")],
)
def test_timestamp_formats_and_parses_back(one_digit_hour, two_digit_millis, text):
    seconds = 3723.456
    assert timestamp(seconds, one_digit_hour, two_digit_millis) == text
    assert parse_timestamp(text) == pytest.approx(seconds, abs=0.01)
