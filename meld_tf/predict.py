"""Predict emotion and sentiment for clips and/or utterances, from the command line.

    python -m meld_tf.predict runs/<run> clip.mp4 --text "Oh my God!"
    python -m meld_tf.predict runs/<run> --text "I'm so happy!" --text "Leave me alone."
    python -m meld_tf.predict runs/<run> --csv inputs.csv --json

Inputs: mp4 clips (any resolution, frame rate or channel count), texts, or both paired
(the i-th ``--text`` with the i-th clip; as many texts as clips, one text is never shared
by several clips), or a CSV with the columns ``clip`` and/or ``text`` (optional ``speaker``,
and ``dialogue``: with a run trained with ``--context`` or ``--future-context``, the
previous or next rows of the same dialogue are the context). Clip paths in a CSV are
relative to the CSV's folder. A modality an input lacks (no text, a clip without audio) is masked.

Prints per input the emotion and sentiment with their probabilities and, for attention
fusion, the weight of each modality; ``--json`` prints one JSON list. An input that
fails (missing or corrupt file, nothing the model can use) gets a one-line error naming
it; the others are still answered. Exit status: 0 if any input got an answer, 1 if all
failed, 2 for a usage error.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np
import tensorflow as tf

from meld_tf.data.media import MediaConfig, decode_clip
from meld_tf.labels import HEADS
from meld_tf.preprocessing import context_key, dialogue_contexts
from meld_tf.task import MeldClassifier


class InputError(ValueError):
    """One input that cannot be answered; its message names the input."""


def read_inputs(clips, texts, csv_path):
    """Input dicts ``{"name", "clip", "text", "speaker", "dialogue"}`` from the flags."""
    if clips and texts and len(texts) != len(clips):
        raise ValueError(
            f"{len(clips)} clips and {len(texts)} --text: give one --text per clip (paired in "
            "order; --text '' for a clip without text), or texts without clips."
        )
    inputs = []
    if clips:
        paired = texts or [None] * len(clips)
        inputs += [{"clip": clip, "text": text} for clip, text in zip(clips, paired)]
    elif texts:
        inputs += [{"clip": None, "text": text} for text in texts]
    if csv_path:
        inputs += read_csv(csv_path)
    for i, item in enumerate(inputs):
        item.setdefault("speaker", "")
        item.setdefault("dialogue", None)
        item["index"] = i
        item["name"] = item["clip"] or f"text {item['text']!r}"
    return inputs


def read_csv(path):
    """Inputs of a CSV with a ``clip`` and/or ``text`` column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"Cannot read the CSV {path}: {error}") from error
    columns = set(rows[0]) if rows else set()
    if not columns & {"clip", "text"}:
        raise ValueError(f"The CSV {path} needs a 'clip' or a 'text' column; it has {columns}.")
    folder = os.path.dirname(os.path.abspath(path))
    inputs = []
    for row in rows:
        clip = (row.get("clip") or "").strip()
        inputs.append(
            {
                "clip": os.path.join(folder, clip) if clip else None,
                "text": row.get("text") or None,
                "speaker": (row.get("speaker") or "").strip(),
                "dialogue": (row.get("dialogue") or "").strip() or None,
            }
        )
    return inputs


def contexts_of(inputs, num_turns, num_next=0):
    """Context string per input index, from the earlier (``num_turns``) and later
    (``num_next``) inputs of the same ``dialogue``."""
    dialogues = {}
    rows = []
    for item in inputs:
        if item["dialogue"] is not None and item["text"]:
            dialogue = dialogues.setdefault(item["dialogue"], len(dialogues))
            rows.append((dialogue, item["index"], item["speaker"], item["text"]))
    contexts = dialogue_contexts(rows, num_turns, num_next)
    keys = {item["index"]: context_key(dialogues.get(item["dialogue"], -1), item["index"])
            for item in inputs}  # fmt: skip
    return {index: contexts.get(key, "") for index, key in keys.items()}


def make_example(item, modalities, media):
    """The dataset-shaped example of one input (raises ``InputError``)."""
    example = {
        "text": item["text"] or "",
        "has_text": bool(item["text"]),
        "speaker": item["speaker"],
    }
    absent = {}
    if "text" in modalities and not item["text"]:
        absent["text"] = "no text given"
    needs_clip = {"audio", "video"} & set(modalities)
    if needs_clip:
        if item["clip"] is None:
            result = None
            for modality in sorted(needs_clip):
                absent[modality] = "no clip given"
        else:
            config = MediaConfig(
                num_frames=media["num_frames"],
                frame_size=media["frame_size"],
                sample_rate=media["sample_rate"],
            )
            result = decode_clip(item["clip"], config)
            if not (result.has_audio or result.has_video):
                raise InputError(f"{item['clip']}: {result.reason or 'no audio and no video'}")
            for modality, present in (("audio", result.has_audio), ("video", result.has_video)):
                if modality in needs_clip and not present:
                    absent[modality] = f"not in the clip ({result.reason})"
        blank = np.zeros((media["num_frames"], media["frame_size"], media["frame_size"], 3),
                         np.uint8)  # fmt: skip
        example.update(
            audio=result.audio if result else np.zeros(0, np.int16),
            frames=result.frames if result else blank,
            face_frames=result.face_frames if result else blank,
            has_audio=bool(result and result.has_audio),
            has_video=bool(result and result.has_video),
        )
    elif item["clip"] is not None:
        if not item["text"]:
            raise InputError(
                f"{item['clip']}: the model uses only {', '.join(modalities)}; give a text."
            )
        absent["clip"] = f"ignored: the model uses only {', '.join(modalities)}"
    if all(modality in absent for modality in modalities):
        raise InputError(
            f"{item['name']}: gives none of the model's modalities ({', '.join(modalities)})."
        )
    return example, absent


def serving_inputs(examples, contexts, config):
    """The serving function's raw inputs (`meld_tf.serving`) of a list of examples."""
    modalities = config.model.modalities
    inputs = {}
    if "text" in modalities:
        inputs["text"] = np.array([example["text"] for example in examples], object)
        if config.dialogue_context:
            inputs["context"] = np.array(contexts, object)
        if config.reads_speaker:
            inputs["speaker"] = np.array([example["speaker"] for example in examples], object)
    if "audio" in modalities:
        lengths = [len(e["audio"]) if e["has_audio"] else 0 for e in examples]
        waveform = np.zeros((len(examples), max(lengths + [1])), np.float32)
        for row, (example, length) in enumerate(zip(examples, lengths)):
            waveform[row, :length] = example["audio"][:length] / 32768.0
        inputs["waveform"], inputs["waveform_length"] = waveform, np.array(lengths, np.int32)
    if "video" in modalities:
        frames = [example[config.model.video_source] for example in examples]
        inputs["frames"] = np.stack(frames)
        inputs["num_frames"] = np.array([len(f) if e["has_video"] else 0
                                         for f, e in zip(frames, examples)], np.int32)  # fmt: skip
    return inputs


def predict(run_dir, inputs):
    """Answers for ``inputs`` (``read_inputs``): a list of dicts, one per input.

    Clips are decoded here; everything after (tokenisation, audio features, frames, the
    model) is ``MeldClassifier.predict`` of raw inputs: the run's serving function
    (`meld_tf.serving.Serving`), the function that ``python -m meld_tf.export`` saves.
    An answer holds ``input``, ``emotion`` and ``sentiment`` (``label`` and
    ``probabilities``), ``fusion_weights`` (per modality, or None unless attention fusion)
    and ``absent`` (masked modality, or an ignored ``clip`` -> why); a failed input holds
    ``input`` and ``error``.
    """
    model = MeldClassifier.from_run(run_dir)
    config, preprocessor = model.config, model.preprocessor
    modalities = config.model.modalities
    contexts = (contexts_of(inputs, config.context, config.future_context)
                if config.dialogue_context else {})  # fmt: skip
    answers, prepared = [], []
    for item in inputs:
        try:
            example, absent = make_example(item, modalities, preprocessor.media)
        except InputError as error:
            answers.append({"input": item["name"], "error": str(error)})
            continue
        except (ValueError, tf.errors.OpError) as error:  # Never lose the other inputs.
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            answers.append({"input": item["name"], "error": f"{item['name']}: {message}"})
            continue
        answer = {"input": item["name"], "absent": absent, "fusion_weights": None}
        answers.append(answer)
        prepared.append((answer, example, contexts.get(item["index"], "")))
    for start in range(0, len(prepared), config.batch_size):
        answered, examples, context = zip(*prepared[start : start + config.batch_size])
        outputs = model.predict(serving_inputs(examples, context, config))
        for i, answer in enumerate(answered):
            for head, classes in HEADS.items():
                probabilities = np.asarray(outputs[head])[i].astype(float)
                answer[head] = {
                    "label": classes[int(probabilities.argmax())],
                    "probabilities": dict(zip(classes, probabilities.round(6).tolist())),
                }
            if "fusion_weights" in outputs:
                row = np.asarray(outputs["fusion_weights"])[i].astype(float)
                answer["fusion_weights"] = dict(zip(modalities, row.round(6).tolist()))
    return answers


def format_answer(answer):
    """Human-readable lines of one answer."""
    if "error" in answer:
        return f"error: {answer['error']}"
    lines = [answer["input"]]
    for head in HEADS:
        ranked = sorted(answer[head]["probabilities"].items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{name} {p:.2f}" for name, p in ranked)
        lines.append(f"  {head:<9} {answer[head]['label']:<8} ({shown})")
    if answer["fusion_weights"] is not None:
        shown = ", ".join(f"{m} {w:.2f}" for m, w in answer["fusion_weights"].items())
        lines.append(f"  fusion    {shown}")
    for modality, reason in answer["absent"].items():
        lines.append(f"  {modality}: {reason}" if modality == "clip" else
                     f"  {modality} masked: {reason}")  # fmt: skip
    return "\n".join(lines)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m meld_tf.predict",
        description="Predict emotion and sentiment with a trained meld-tf run.",
    )
    parser.add_argument("run_dir", help="run folder written by python -m meld_tf.train")
    parser.add_argument("clips", nargs="*", help="mp4 clips")
    parser.add_argument(
        "--text", action="append", default=[],
        help="an utterance (repeat for many; paired in order with the clips)",
    )  # fmt: skip
    parser.add_argument("--csv", help="CSV of inputs: columns clip and/or text (speaker, dialogue)")
    parser.add_argument("--json", action="store_true", help="print the answers as JSON")
    return parser


def main(argv=None):
    """Entry point; returns the exit status (0 if any input was answered)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.clips or args.text or args.csv):
        parser.error("nothing to predict: give clips, --text or --csv.")
    try:
        inputs = read_inputs(args.clips, args.text, args.csv)
        answers = predict(args.run_dir, inputs)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    if not inputs:
        parser.error(f"the CSV {args.csv} has no rows.")
    if args.json:
        print(json.dumps(answers, indent=2))
    else:
        for answer in answers:
            stream = sys.stderr if "error" in answer else sys.stdout
            print(format_answer(answer), file=stream)
    return 0 if any("error" not in answer for answer in answers) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
