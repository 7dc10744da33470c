"""Looking at a finished run in a notebook: per-example predictions, clips, run plots.

* ``predictions_table(run_dir, split)``: one row per example of a split with its text,
  true and predicted labels, confidences and (attention fusion) modality weights.
* ``raw_examples(run_dir, split, indices)``: the dataset examples (frames, audio) of rows.
* ``plot_example(example, row)``: a clip's frames and spectrogram beside its prediction.
* ``show_run_plots(run_dir)``: the confusion matrices and training curves of a run.
* ``neutral_confusion(table)``: how neutral and the other emotions are mistaken for each
  other.

Figures are returned (never saved): a notebook shows them inline.
"""

import glob
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from meld_tf.config import ModelConfig
from meld_tf.data.audio_features import compute_audio_features
from meld_tf.labels import EMOTIONS, HEADS
from meld_tf.models import attention_weights_model
from meld_tf.preprocessing import split_metadata
from meld_tf.scoring import open_split, predict_split, split_batches

NEUTRAL = "neutral"
SPECTROGRAM_MEL_BINS = 64  # Display resolution of `plot_example`'s spectrogram.


def predictions_table(run_dir, split="test", data_dir=None):
    """Predictions of a run on every example of ``split``, as a ``pandas.DataFrame``.

    Columns: ``dialogue_id``, ``utterance_id``, ``speaker``, ``text``; per head
    (``emotion``, ``sentiment``) the true label, ``<head>_predicted``,
    ``<head>_confidence`` (probability of the prediction), ``<head>_p_true``
    (probability of the true label) and ``<head>_correct``; with attention fusion one
    ``weight_<modality>`` column per modality. Row ``i`` is the ``i``-th example of the
    split (as in ``raw_examples``).
    """
    config, model, preprocessor, _, examples = open_split(run_dir, split, data_dir)
    rows = split_metadata(examples)
    data = split_batches(config, preprocessor, examples, split, rows)
    labels, probabilities = predict_split(model, data)
    table = pd.DataFrame(rows, columns=["dialogue_id", "utterance_id", "speaker", "text"])
    for head, classes in HEADS.items():
        predicted = probabilities[head].argmax(axis=-1)
        table[head] = [classes[i] for i in labels[head]]
        table[f"{head}_predicted"] = [classes[i] for i in predicted]
        table[f"{head}_confidence"] = probabilities[head].max(axis=-1)
        table[f"{head}_p_true"] = probabilities[head][np.arange(len(predicted)), labels[head]]
        table[f"{head}_correct"] = predicted == labels[head]
    if config.model.fusion == "attention":
        weights_model = attention_weights_model(model)
        weights = np.concatenate([weights_model.predict_on_batch(x) for x, *_ in data])
        for i, modality in enumerate(config.model.modalities):
            table[f"weight_{modality}"] = weights[:, i]
    return table


def raw_examples(run_dir, indices, split="test", data_dir=None):
    """The dataset examples (numpy dicts: text, audio, frames, ...) at ``indices`` of
    ``split``, in the order of ``indices``."""
    wanted = [int(i) for i in indices]
    found = {}
    *_, examples = open_split(run_dir, split, data_dir)
    for i, example in enumerate(examples.take(max(wanted, default=-1) + 1).as_numpy_iterator()):
        if i in wanted:
            found[i] = example
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise IndexError(f"Rows {missing} are past the end of the {split} split ({i + 1} rows).")
    return [found[i] for i in wanted]


def spectrogram(audio, sample_rate=16000):
    """Log-mel spectrogram ``(frames, SPECTROGRAM_MEL_BINS)`` of an int16 waveform."""
    seconds = max(len(audio) / sample_rate, 0.1)
    config = ModelConfig(
        sample_rate=sample_rate, audio_seconds=seconds, num_mel_bins=SPECTROGRAM_MEL_BINS
    )
    waveform = np.asarray(audio, np.float32) / 32768.0
    return compute_audio_features(waveform, config).numpy()


def plot_example(example, row, num_frames=4, video_source="face_frames"):
    """A figure: ``num_frames`` frames of the clip, its spectrogram, and the prediction.

    Args:
        example: a dataset example (``raw_examples``); text-only examples are drawn
            without frames and spectrogram.
        row: the example's row of ``predictions_table`` (a ``pandas.Series``).
        num_frames: frames shown.
        video_source: ``"face_frames"`` or ``"frames"``.
    """
    has_clip = video_source in example
    figure = plt.figure(figsize=(12, 3.2 if has_clip else 1.6))
    grid = figure.add_gridspec(1, num_frames + 3 if has_clip else 1)
    if has_clip:
        frames = example[video_source]
        for k, index in enumerate(np.linspace(0, len(frames) - 1, num_frames).round()):
            axis = figure.add_subplot(grid[0, k])
            axis.imshow(frames[int(index)])
            axis.set_axis_off()
            if not example.get("has_video", True):
                axis.set_title("no video", fontsize=8)
        axis = figure.add_subplot(grid[0, num_frames : num_frames + 2])
        if example.get("has_audio", True) and len(example["audio"]):
            axis.imshow(spectrogram(example["audio"]).T, origin="lower", aspect="auto")
            axis.set_xlabel("10 ms frames")
            axis.set_ylabel("mel bin")
        else:
            axis.text(0.5, 0.5, "no audio", ha="center", va="center")
            axis.set_axis_off()
        text_axis = figure.add_subplot(grid[0, -1])
    else:
        text_axis = figure.add_subplot(grid[0, 0])
    text_axis.set_axis_off()
    lines = [
        f"true: {row['emotion']} / {row['sentiment']}",
        f"predicted: {row['emotion_predicted']} ({row['emotion_confidence']:.2f})",
        f"    / {row['sentiment_predicted']} ({row['sentiment_confidence']:.2f})",
    ]
    weights = [(c[len("weight_") :], row[c]) for c in row.index if c.startswith("weight_")]
    if weights:
        lines.append("attention: " + ", ".join(f"{m} {w:.2f}" for m, w in weights))
    text_axis.text(0, 0.5, "\n".join(lines), va="center", fontsize=9, family="monospace")
    text = row["text"] if len(row["text"]) <= 90 else row["text"][:87] + "..."
    figure.suptitle(f"{row['speaker']}: {text}", fontsize=10)
    return figure


def show_run_plots(run_dir, split="test", columns=3):
    """A figure of the run's PNGs: its ``split`` confusion matrices and training curves."""
    paths = sorted(glob.glob(os.path.join(run_dir, f"confusion_{split}_*.png")))
    paths += glob.glob(os.path.join(run_dir, "training_curves.png"))
    if not paths:
        raise FileNotFoundError(f"No plots in {run_dir}; is it a finished run folder?")
    rows = -(-len(paths) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 5 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, path in zip(axes.flat, paths):
        axis.imshow(plt.imread(path))
        axis.set_title(os.path.basename(path), fontsize=9)
    figure.tight_layout()
    return figure


def neutral_confusion(table):
    """Counts of neutral vs. the other emotions: rows true, columns predicted.

    Returns a 2 x 2 ``DataFrame`` (``neutral``, ``other emotion``); an example whose
    true and predicted emotions are two different non-neutral ones counts as
    ``other emotion`` on both sides (see the full confusion matrix for those).
    """
    if NEUTRAL not in EMOTIONS:
        raise ValueError(f"{NEUTRAL!r} is not one of the emotions {EMOTIONS}.")
    names = {True: NEUTRAL, False: "other emotion"}
    true = (table["emotion"] == NEUTRAL).map(names).rename("true")
    predicted = (table["emotion_predicted"] == NEUTRAL).map(names).rename("predicted")
    counts = pd.crosstab(true, predicted)
    order = list(names.values())
    return counts.reindex(index=order, columns=order, fill_value=0)
