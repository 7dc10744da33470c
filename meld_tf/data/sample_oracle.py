"""The sample's oracle: the best accuracy any model can reach on it, per modality subset.

The generator knows, for every utterance and modality, which emotion that modality shows:
the true one with probability ``SampleConfig.show_prob``, else one of the other six at
random. A model that perceives perfectly what each present modality shows can do no better
than the Bayes decision: the emotion ``e`` that maximises

    prior(e) * prod over present modalities m of P(shown_m | e),
    P(s | e) = show_prob if s == e else (1 - show_prob) / 6.

`bayes_accuracy` scores that decision on the utterances of a split (the same utterances a
model is scored on). A clip that is missing, broken or mis-cut hides audio and video, and a
clip without an audio stream hides audio, as in the built dataset.
"""

import numpy as np

from meld_tf.data.sample import SampleConfig, _plan_split, split_sizes
from meld_tf.labels import EMOTIONS, MODALITIES

# Sample faults that leave a modality out of the built dataset (has_audio / has_video False).
HIDES = {
    "audio": {"missing_clip", "truncated_clip", "long_clip", "no_audio"},
    "video": {"missing_clip", "truncated_clip", "long_clip"},
    "text": set(),
}


def bayes_decisions(rows, modalities, config):
    """Index into ``EMOTIONS`` of the Bayes decision for each planned row."""
    prior = np.asarray(config.emotion_weights, dtype=np.float64)
    log_prior = np.log(prior / prior.sum())
    hit = np.log(config.show_prob)
    miss = np.log((1.0 - config.show_prob) / (len(EMOTIONS) - 1))
    decisions = []
    for row in rows:
        score = log_prior.copy()
        for modality in modalities:
            if row["faults"] & HIDES[modality]:
                continue
            shown = EMOTIONS.index(row["shown"][modality])
            score += np.where(np.arange(len(EMOTIONS)) == shown, hit, miss)
        decisions.append(int(np.argmax(score)))
    return np.asarray(decisions)


def bayes_accuracy(modalities=MODALITIES, split="test", num_dialogues=40, seed=0, config=None):
    """Accuracy of the Bayes decision from ``modalities`` on a split of the sample.

    Args:
        modalities: the modalities a model sees (any non-empty subset).
        split: MELD split name (``train``, ``dev``, ``test``); ``validation`` is ``dev``.
        num_dialogues, seed, config: the sample's, as given to `generate_sample`.

    Returns:
        Accuracy in [0, 1].
    """
    config = config or SampleConfig()
    split = "dev" if split == "validation" else split
    rows = _plan_split(split, split_sizes(num_dialogues, config)[split], seed, config)
    truth = np.asarray([EMOTIONS.index(row["Emotion"]) for row in rows])
    return float(np.mean(bayes_decisions(rows, modalities, config) == truth))
