"""MELD as a TensorFlow dataset: one example per utterance, text, labels and media.

Configs: ``text`` (CSVs only), ``full`` (CSVs and mp4 clips of the real ``MELD.Raw``
archive) and ``sample`` (the built-in synthetic MELD tree of `meld_tf.data.sample`).

Without Beam options the clips are decoded here on a thread pool (every core); with
``--beam_pipeline_options`` each split is an Apache Beam pipeline (see `meld_beam`).
"""

import dataclasses
import logging

import numpy as np
import tensorflow_datasets as tfds

from meld_tf.data import media
from meld_tf.data.progress import progress_bar
from meld_tf.data.sample import sample_fingerprint
from meld_tf.data.text_repair import read_meld_csv
from meld_tf.labels import EMOTIONS, SENTIMENTS

from . import meld_beam, meld_files, meld_layout
from .meld_report import BuildReport

logger = logging.getLogger(__name__)

TFDS_SPLITS = {"train": "train", "dev": "validation", "test": "test"}  # MELD split -> TFDS
SAMPLE_VERSION_FILE = "sample_version.txt"  # in a `sample` build: the sample it was made from


@dataclasses.dataclass(eq=False)
class MeldConfig(tfds.core.BuilderConfig):
    """What a MELD config writes.

    Args:
        with_media: decode the clips (audio, frames, face crops) or write text only.
        num_frames: frames sampled evenly over each clip.
        frame_size: side of the square frames and face crops.
        sample_rate: audio rate in Hz (mono int16).
        max_clip_seconds: longer clips are mis-cut: their media is not kept.
        generated: the data is the synthetic sample of `meld_tf.data.sample`, generated
            with ``sample_dialogues`` dialogues and ``sample_seed`` (no input needed).
    """

    with_media: bool = True
    num_frames: int = 8
    frame_size: int = 112
    sample_rate: int = 16000
    max_clip_seconds: float = 30.0
    generated: bool = False
    sample_dialogues: int = 40
    sample_seed: int = 0

    @property
    def media(self):
        """The `meld_tf.data.media.MediaConfig` of this config."""
        return media.MediaConfig(
            self.num_frames, self.frame_size, self.sample_rate, self.max_clip_seconds
        )


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for MELD (Multimodal EmotionLines Dataset)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        MeldConfig(name="text", with_media=False,
                   description="Text, speaker, times and labels from the three CSVs."),
        MeldConfig(name="full",
                   description="Text and labels plus 16 kHz audio, frames and face crops "
                               "of every clip of MELD.Raw.tar.gz (manual download)."),
        MeldConfig(name="sample", generated=True,
                   description="A small synthetic MELD (generated, no download), with "
                               "the real archive's faults; for tests and demos."),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    `text`: give a folder holding train_sent_emo.csv, dev_sent_emo.csv and
    test_sent_emo.csv, or MELD.Raw.tar.gz (the CSVs are read out of it), with --manual_dir;
    without one the CSVs are downloaded from the MELD GitHub repository.
    `full`: download MELD.Raw.tar.gz (about 10 GB) from
    {meld_layout.ARCHIVE_URL}
    and give the folder that holds it (or its unpacked, even half-unpacked, MELD.Raw
    folder) with --manual_dir.
    `sample`: nothing to download.
    """

    def _info(self):
        config = self.builder_config
        features = {
            "dialogue_id": np.int32,
            "utterance_id": np.int32,
            "season": np.int32,
            "episode": np.int32,
            "speaker": tfds.features.Text(),
            "text": tfds.features.Text(),
            "start_time": np.float32,
            "end_time": np.float32,
            "emotion": tfds.features.ClassLabel(names=EMOTIONS),
            "sentiment": tfds.features.ClassLabel(names=SENTIMENTS),
        }
        if config.with_media:
            video_shape = (config.num_frames, config.frame_size, config.frame_size, 3)
            features.update({
                "audio": tfds.features.Audio(
                    shape=(None,), dtype=np.int16, sample_rate=config.sample_rate,
                    file_format=None,
                ),
                "frames": tfds.features.Video(video_shape, encoding_format="jpeg"),
                "face_frames": tfds.features.Video(video_shape, encoding_format="jpeg"),
                "has_audio": np.bool_,
                "has_video": np.bool_,
                "has_face": np.bool_,
            })  # fmt: skip
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://affective-meld.github.io/",
        )

    # --- The sample is rebuilt whenever its generator changes. ---------------------------

    def sample_version(self):
        """The `sample_fingerprint` this config's sample has now (None for other configs)."""
        config = self.builder_config
        if not config.generated:
            return None
        return sample_fingerprint(config.sample_dialogues, config.sample_seed)

    def built_sample_version(self):
        """The sample version the prepared ``sample`` build was made from (None if unknown)."""
        path = self.data_path / SAMPLE_VERSION_FILE
        return path.read_text().strip() if path.exists() else None

    def _stale_sample(self):
        return self.sample_version() != self.built_sample_version()

    def is_prepared(self):
        """Prepared, and for ``sample`` made by today's generator."""
        return super().is_prepared() and not self._stale_sample()

    def download_and_prepare(self, *, download_config=None, **kwargs):
        if self.data_path.exists() and self._stale_sample():
            print(
                f"meld/{self.builder_config.name} in {self.data_path} was built from sample "
                f"version {self.built_sample_version()}; the generator now makes version "
                f"{self.sample_version()}: rebuilding.", flush=True,
            )
            download_config = dataclasses.replace(
                download_config or tfds.download.DownloadConfig(),
                download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS,
            )
        super().download_and_prepare(download_config=download_config, **kwargs)

    def _download_and_prepare(self, dl_manager, download_config=None):
        self._report = BuildReport(self.builder_config.name, self.sample_version())
        self._use_beam = download_config is not None and (
            download_config.beam_options is not None or download_config.beam_runner is not None
        )
        super()._download_and_prepare(dl_manager, download_config)
        if self.sample_version():
            (self.data_path / SAMPLE_VERSION_FILE).write_text(self.sample_version())
        print(self._report.format(), flush=True)

    def _process_pipeline_result(self, pipeline_result):
        """Under Beam: the build summary comes from the pipeline's metrics."""
        meld_beam.fill_report(self._report, pipeline_result, list(TFDS_SPLITS.values()))

    def _split_generators(self, dl_manager):
        config = self.builder_config
        work_dir = dl_manager.download_dir / "meld_tf"
        if config.generated:
            root = meld_files.prepare_sample(
                work_dir / config.name, config.sample_dialogues, config.sample_seed
            )
            files = meld_layout.find_files(root)
        elif config.name == "text" and _manual_dir(dl_manager) is None:
            urls = {s: meld_layout.CSV_URL.format(name=meld_layout.CSV_NAMES[s])
                    for s in meld_layout.SPLITS}
            files = meld_layout.MeldFiles(csvs=dl_manager.download(urls), clip_dirs={})
        else:
            files = meld_files.prepare_raw(
                dl_manager.manual_dir, work_dir, with_media=config.with_media
            )
        if not hasattr(self, "_report"):  # _download_and_prepare was bypassed
            self._report = BuildReport(config.name, self.sample_version())
        return {
            TFDS_SPLITS[split]: self._generate_examples(
                split, files.csvs[split], files.clip_dirs.get(split)
            )
            for split in meld_layout.SPLITS
        }

    def _generate_examples(self, split, csv_path, clip_dir):
        """``(key, example)`` of one split, keyed ``"{split}/dia{D}_utt{U}"``.

        A generator in CSV order, or under Beam a `beam.PTransform` of the same examples.
        """
        config, report, name = self.builder_config, self._report, TFDS_SPLITS[split]
        rows = read_meld_csv(csv_path)
        keys = [f"{name}/dia{r['dialogue_id']}_utt{r['utterance_id']}" for r in rows]
        clips = {}
        if config.with_media:
            clips = meld_layout.index_clips(clip_dir)
            ids = {(r["dialogue_id"], r["utterance_id"]) for r in rows}
            report.add_unused(name, [clips[i].name for i in sorted(set(clips) - ids)])
        paths = [clips.get((r["dialogue_id"], r["utterance_id"])) for r in rows]
        if getattr(self, "_use_beam", False):
            items = [
                (key, _text_features(row), None if path is None else str(path))
                for key, row, path in zip(keys, rows, paths)
            ]
            return meld_beam.examples_transform(
                name, items, config.media if config.with_media else None
            )
        return self._local_examples(name, keys, rows, paths)

    def _local_examples(self, name, keys, rows, paths):
        """Yields ``(key, example)`` in CSV order, decoding clips on a thread pool."""
        config, report = self.builder_config, self._report
        if not config.with_media:
            for key, row in zip(keys, rows):
                report.add_row(name, key)
                yield key, _text_features(row)
            return
        results = progress_bar(media.decode_clips(paths, config.media), total=len(paths),
                               desc=f"Decoding {name} clips", unit="clip")
        for key, row, clip in zip(keys, rows, results):
            report.add_row(name, key)
            report.add_clip(name, key, clip)
            if clip.reason:
                logger.warning("%s: %s", key, clip.reason)
            yield key, meld_beam.example_of(_text_features(row), clip)


def sample_config(num_dialogues, seed=0):
    """The ``sample`` config at another size or seed, named ``sample_{num_dialogues}d_s{seed}``.

    For example ``tfds.builder("meld", config=sample_config(120))`` builds a sample three
    times the default size (TFDS wants a custom config to have a name of its own).
    """
    base = Builder.builder_configs["sample"]
    if (num_dialogues, seed) == (base.sample_dialogues, base.sample_seed):
        return base
    return dataclasses.replace(
        base, name=f"sample_{num_dialogues}d_s{seed}", sample_dialogues=num_dialogues,
        sample_seed=seed,
    )


def _manual_dir(dl_manager):
    """The manual dir if the user gave one (non-empty), else None."""
    try:
        return dl_manager.manual_dir
    except AssertionError:
        return None


def _text_features(row):
    return {
        name: row[name]
        for name in (
            "dialogue_id", "utterance_id", "season", "episode", "speaker", "text",
            "start_time", "end_time", "emotion", "sentiment",
        )
    }  # fmt: skip
