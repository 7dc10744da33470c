"""The training CLI's flags and the configs' checks (no data, no model)."""

import dataclasses
import json
import logging
import subprocess
import sys

import pytest

from meld_tf import train
from meld_tf.config import ModelConfig, flag_of
from meld_tf.train_config import TrainConfig


def parse(*argv):
    return train.config_from_args(train.build_parser().parse_args(list(argv)))


def test_every_config_field_has_a_flag():
    parser = train.build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    fields = [f for c in (ModelConfig, TrainConfig) for f in dataclasses.fields(c)]
    missing = [f.name for f in fields if f.name != "model" and flag_of(f) not in flags]
    assert not missing
    config = parse(
        "--text-pooling", "cls", "--audio-pooling", "lstm", "--video-temporal", "lstm",
        "--max-examples", "7", "--lr-patience", "3", "--lr-factor", "0.2",
        "--min-learning-rate", "1e-6", "--shuffle-buffer", "99", "--audio-conv-filters", "4", "8",
        "--loss-weights", "1", "0",
    )  # fmt: skip
    assert (config.model.text_pooling, config.model.audio_pooling) == ("cls", "lstm")
    assert config.model.video_temporal == "lstm" and config.model.audio_conv_filters == (4, 8)
    assert (config.max_examples, config.lr_patience, config.lr_factor) == (7, 3, 0.2)
    assert (config.min_learning_rate, config.shuffle_buffer) == (1e-6, 99)
    assert config.loss_weights == (1.0, 0.0)


def test_switches_turn_off_over_a_config(tmp_path):
    path = tmp_path / "config.json"
    TrainConfig(precision="bf16", bucket_by_length=True).replace(text_trainable=False).save(
        path
    )
    on = parse("--config", str(path))
    assert on.precision == "bf16" and on.bucket_by_length and not on.model.text_trainable
    off = parse("--config", str(path), "--precision", "fp32", "--no-bucket-by-length",
                "--no-freeze-text")  # fmt: skip
    assert off.precision == "fp32" and not off.bucket_by_length and off.model.text_trainable
    assert not parse("--freeze-text").model.text_trainable


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--text-max-length", "0"], "text_max_length 0 (--text-max-length) must be at least"),
        (["--num-frames", "0"], "num_frames 0 (--num-frames) must be at least 1"),
        (["--frame-size", "-3"], "frame_size -3 (--frame-size) must be at least"),
        (["--patience", "-1"], "early_stopping_patience -1 (--patience) must be at least 0"),
        (["--weight-decay", "-1"], "weight_decay -1.0 (--weight-decay) must be at least 0"),
        (["--audio-seconds", "0"], "audio_seconds 0.0 (--audio-seconds) must be at least"),
        (["--hidden-dim", "0"], "hidden_dim 0 (--hidden-dim) must be at least 1"),
        (["--lr-factor", "1"], "lr_factor 1.0 (--lr-factor) must be more than 0 and less than 1"),
        (["--seed", "-1"], "seed -1 (--seed) must be at least 0"),
        (["--audio-conv-filters", "4", "0"], "(--audio-conv-filters) must be at least 1 each"),
        (["--loss-weights", "0", "0"], "are both 0"),
        (["--modalities", "text", "text"], "lists one twice"),
        (["--audio-features", "mfcc", "--num-mfcc", "80"], "must be at most num_mel_bins"),
    ],
)
def test_bad_numbers_are_one_line_errors_before_any_data(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error


def test_json_configs_get_the_same_checks(tmp_path):
    with pytest.raises(ValueError, match=r"num_frames 0 \(--num-frames\) must be at least 1"):
        TrainConfig.from_dict({"model": {"num_frames": 0}})
    with pytest.raises(ValueError, match=r"epochs '3' \(--epochs\) must be a whole number"):
        TrainConfig.from_dict({"epochs": "3"})
    with pytest.raises(ValueError, match=r"modalities 'text' \(--modalities\) must be a list"):
        TrainConfig.from_dict({"model": {"modalities": "text"}})
    with pytest.raises(ValueError, match="Unknown fusion 'sum'"):
        ModelConfig(fusion="sum")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model": {"hidden_dim": 0}}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "meld_tf.train", "--config", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "python -m meld_tf.train: error: hidden_dim 0 (--hidden-dim) must be at least 1. "
        "(--help lists the flags)"
    ]


def test_help_is_clean(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "meld_tf.train", "--help"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "--no-bucket-by-length" in done.stdout
    assert done.stderr == ""  # No TensorFlow start-up lines.


def test_library_deprecation_notices_are_dropped():
    absl = logging.getLogger("absl")
    notice = absl.makeRecord("absl", logging.WARNING, "feature.py", 72,
                             "`FeatureConnector.dtype` is deprecated. Please ...", (), None)
    custom = absl.makeRecord("absl", logging.WARNING, "builder.py", 1, "Using custom data "
                             "configuration: MeldConfig(name='sample_120d_s0', ...)", (), None)
    other = absl.makeRecord("absl", logging.WARNING, "x.py", 1, "Clip skipped", (), None)
    assert not absl.filter(notice) and not absl.filter(custom) and absl.filter(other)


def test_auto_precision_is_bf16_only_on_cpus_with_bf16_units(tmp_path):
    from meld_tf.distribute import cpu_flags, resolve_precision

    assert resolve_precision("auto", flags={"avx2", "avx512f", "avx512_bf16"}) == "bf16"
    assert resolve_precision("auto", flags={"avx2", "amx_tile", "amx_bf16"}) == "bf16"
    assert resolve_precision("auto", flags={"avx2", "fma", "avx512f"}) == "fp32"
    assert resolve_precision("fp16", flags=set()) == "fp16"  # A choice is kept.
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_configs_written_before_a_field_existed_read_as_their_runs_trained():
    old = TrainConfig().to_dict()
    del old["precision"], old["monitor"], old["model"]["auxiliary_loss"], old["encoder_patience"]
    old.update(mixed_precision=True, dataset_version="1.0.0")
    config = TrainConfig.from_dict(old)
    assert config.precision == "bf16" and config.monitor == "val_loss"
    assert config.model.auxiliary_loss == 0.0 and config.encoder_patience == 0
    fresh = TrainConfig.from_dict({"epochs": 2})
    assert fresh.monitor == "val_emotion_weighted_f1" and fresh.model.auxiliary_loss == 0.5
    assert fresh.encoder_patience == 3
