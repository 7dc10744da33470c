"""The MELD builder under Apache Beam (DirectRunner) writes what the plain build writes."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_meld.meld import meld_dataset_builder, meld_files

NUM_DIALOGUES = 5  # the smallest sample that holds every clip fault
SPLITS = tuple(meld_dataset_builder.TFDS_SPLITS.values())
CONFIG = meld_dataset_builder.sample_config(NUM_DIALOGUES)


def _build(root, data_dir, beam_options=None):
    """Build the small sample from ``root`` into ``data_dir``; returns the builder."""
    link = data_dir / "downloads" / "meld_tf" / CONFIG.name
    link.parent.mkdir(parents=True)
    link.symlink_to(root, target_is_directory=True)
    builder = meld_dataset_builder.Builder(config=CONFIG, data_dir=str(data_dir))
    config = tfds.download.DownloadConfig()
    if beam_options is not None:
        beam = tfds.core.lazy_imports.apache_beam
        config.beam_options = beam.options.pipeline_options.PipelineOptions(flags=beam_options)
    builder.download_and_prepare(download_config=config)
    return builder


def _examples(builder):
    """``{"split/diaD_uttU": example}`` of every split (numpy)."""
    found = {}
    for split in SPLITS:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            found[f"{split}/dia{ex['dialogue_id']}_utt{ex['utterance_id']}"] = ex
    return found


def _summary_lines(text):
    """The build summary's lines, as a set (Beam lists problems in key order)."""
    lines = text[text.index("MELD build summary"):].splitlines()
    return {lines[0]} | {line for line in lines[1:] if line.startswith("  ")}


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    return meld_files.prepare_sample(
        tmp_path_factory.mktemp("beam") / "root", num_dialogues=NUM_DIALOGUES
    )


def test_beam_build_equals_plain_build(small_root, tmp_path, capsys):
    plain = _build(small_root, tmp_path / "plain")
    plain_summary = capsys.readouterr().out
    beam = _build(
        small_root, tmp_path / "beam", ["--runner=DirectRunner", "--direct_num_workers=2"]
    )
    beam_summary = capsys.readouterr().out

    assert {s: beam.info.splits[s].num_examples for s in SPLITS} == {
        s: plain.info.splits[s].num_examples for s in SPLITS
    }
    expected, got = _examples(plain), _examples(beam)
    assert sorted(got) == sorted(expected)
    for key, example in expected.items():
        assert sorted(got[key]) == sorted(example), key
        for name, value in example.items():
            np.testing.assert_array_equal(got[key][name], value, err_msg=f"{key}: {name}")
    # The sample has missing and broken clips: the summary lists them under Beam too.
    assert not all(ex["has_audio"] for ex in expected.values())
    assert _summary_lines(beam_summary) == _summary_lines(plain_summary)
    assert "with media missing" in beam_summary and ": missing clip" in beam_summary
