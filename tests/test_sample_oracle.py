"""The sample's Bayes ceilings, checked where the answer is known without the formula."""

import dataclasses

import numpy as np
import pytest

from meld_tf.data.sample import SampleConfig, _plan_split, split_sizes
from meld_tf.data.sample_oracle import HIDES, bayes_accuracy
from meld_tf.labels import EMOTIONS


def _rows(config, num_dialogues=12, split="test"):
    return _plan_split(split, split_sizes(num_dialogues, config)[split], 0, config)


@pytest.mark.parametrize("modality", ["text", "audio", "video"])
def test_a_modality_that_always_shows_the_truth_is_right_where_present(modality):
    config = dataclasses.replace(SampleConfig(), show_prob=1.0 - 1e-9)
    rows = _rows(config)
    present = [not (row["faults"] & HIDES[modality]) for row in rows]
    # Where the modality is absent the decision is the prior's mode (neutral).
    expected = np.mean([p or row["Emotion"] == "neutral" for p, row in zip(present, rows)])
    assert bayes_accuracy((modality,), num_dialogues=12, config=config) == pytest.approx(expected)


def test_an_uninformative_sample_leaves_only_the_prior():
    config = dataclasses.replace(SampleConfig(), show_prob=1.0 / len(EMOTIONS))
    rows = _rows(config)
    neutral = np.mean([row["Emotion"] == "neutral" for row in rows])
    assert bayes_accuracy(num_dialogues=12, config=config) == pytest.approx(neutral)


def test_default_sample_ceilings_are_ordered():
    """Fusing all three beats any single modality on a sample of 250+ test utterances."""
    singles = [bayes_accuracy((m,), num_dialogues=120) for m in ("text", "audio", "video")]
    fused = bayes_accuracy(num_dialogues=120)
    assert 0.5 < min(singles) and max(singles) + 0.1 < fused < 1.0
