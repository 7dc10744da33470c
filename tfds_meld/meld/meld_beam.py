"""The MELD build as an Apache Beam pipeline: one element per utterance, decoded on workers.

When ``tfds build`` gets ``--beam_pipeline_options`` (or a `DownloadConfig` has
``beam_options`` / ``beam_runner``), each split is a `beam.PTransform` instead of a Python
generator: the driver reads the CSVs and lists the clips, the workers decode the clips (the
slow part). The same pipeline runs on the DirectRunner, Dataflow, Flink or Spark.

The build summary is carried by Beam metrics (namespace ``meld``), which every runner
aggregates across workers: counters ``{split}/rows``, ``{split}/decoded``,
``{split}/no_face`` and a string set ``problems`` of ``"{key}\\t{reason}"``. After the
pipeline ran, `fill_report` copies them into a `BuildReport`.
"""

import logging

import tensorflow_datasets as tfds

from meld_tf.data import media

logger = logging.getLogger(__name__)

NAMESPACE = "meld"
_PROBLEMS = "problems"


def example_of(features, clip):
    """The dataset example of one utterance: its text features plus a decoded ``clip``."""
    return {
        **features,
        "audio": clip.audio,
        "frames": clip.frames,
        "face_frames": clip.face_frames,
        "has_audio": clip.has_audio,
        "has_video": clip.has_video,
        "has_face": clip.has_face,
    }


def examples_transform(split, items, media_config=None):
    """A `beam.PTransform` (nothing -> ``(key, example)``) for one split.

    Args:
        split: the TFDS split name (for the metric names).
        items: ``(key, text_features, clip_path)`` per utterance (``clip_path`` a ``str``
            or None when the clip is missing).
        media_config: a `meld_tf.data.media.MediaConfig`, or None for text only.
    """
    beam = tfds.core.lazy_imports.apache_beam
    return (
        "ListUtterances" >> beam.Create(items)
        | "Spread" >> beam.Reshuffle()  # one worker reads the list; all of them decode
        | "Decode" >> beam.Map(_decode, split, media_config)
    )


def _decode(item, split, media_config):
    """``(key, example)`` of one utterance, counting what happened to its clip."""
    metrics = tfds.core.lazy_imports.apache_beam.metrics.Metrics
    key, features, path = item
    metrics.counter(NAMESPACE, f"{split}/rows").inc()
    if media_config is None:
        return key, features
    clip = media.decode_clip(path, media_config)
    if clip.has_audio and clip.has_video:
        metrics.counter(NAMESPACE, f"{split}/decoded").inc()
    if clip.has_video and not clip.has_face:
        metrics.counter(NAMESPACE, f"{split}/no_face").inc()
    if clip.reason:
        logger.warning("%s: %s", key, clip.reason)
        metrics.string_set(NAMESPACE, _PROBLEMS).add(f"{key}\t{clip.reason}")
    return key, example_of(features, clip)


def _value(result):
    """A metric's committed value where the runner has one, else its attempted value."""
    committed = getattr(result, "committed", None)
    return committed if committed is not None else result.attempted


def fill_report(report, pipeline_result, splits):
    """Copy the ``meld`` metrics of a finished pipeline into a `BuildReport`.

    ``splits``: TFDS split names in the order the summary lists them. Problems are listed
    by key (split, dialogue, utterance), since workers finish in no fixed order.
    """
    beam = tfds.core.lazy_imports.apache_beam
    query = pipeline_result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(NAMESPACE)
    )
    counts = {r.key.metric.name: _value(r) for r in query.get("counters", [])}
    problems = set()
    for r in query.get("string_sets", []):
        if r.key.metric.name == _PROBLEMS:
            problems |= set(_value(r) or ())
    for split in splits:
        if f"{split}/rows" not in counts:
            continue
        report.rows[split] = counts[f"{split}/rows"]
        report.decoded[split] = counts.get(f"{split}/decoded", 0)
        report.no_face[split] = counts.get(f"{split}/no_face", 0)
    for entry in sorted(problems, key=lambda e: _key_order(e, splits)):
        key, reason = entry.split("\t", 1)
        report.problems[key] = reason


def _key_order(entry, splits):
    """Sort key of ``"{split}/dia{D}_utt{U}\\t..."``: split order, then D and U as numbers."""
    key = entry.split("\t", 1)[0]
    split, name = key.split("/", 1)
    dialogue, utterance = name.removeprefix("dia").split("_utt")
    rank = splits.index(split) if split in splits else len(splits)
    return rank, int(dialogue), int(utterance)
