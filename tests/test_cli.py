"""train / evaluate / predict end to end on the prepared sample, with tiny models."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from meld_tf import MeldClassifier, calibration, evaluate, predict, run_folder, train, trainer
from meld_tf.data.sample import write_clip
from meld_tf.labels import EMOTIONS
from meld_tf.train_config import TrainConfig

TINY = [
    "--dataset", "sample", "--epochs", "1", "--batch-size", "16",
    "--text-encoder", "bilstm", "--text-max-length", "16",
    "--latent-dim", "8", "--hidden-dim", "8", "--audio-seconds", "1",
    "--num-frames", "2", "--frame-size", "16", "--video-encoder", "conv3d", "--video-width", "4",
    "--lr", "0.003",
]  # fmt: skip


def run_train(data_dir, out, *flags):
    return train.main([*TINY, "--data-dir", str(data_dir), "--out", str(out), *flags])


def recorded(run_dir):
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as file:
        return json.load(file)


def evaluate_json(run_dir, split, capsys):
    capsys.readouterr()
    assert evaluate.main([str(run_dir), "--split", split, "--json"]) == 0
    return json.loads(capsys.readouterr().out)[split]


@pytest.fixture(scope="module")
def run_dir(sample_data_dir, tmp_path_factory):
    """One tiny text + audio + video run with attention fusion."""
    out = tmp_path_factory.mktemp("runs") / "tav"
    return run_train(sample_data_dir, out, "--modalities", "text", "audio", "video")


def test_run_folder_holds_config_model_metrics_and_plots(run_dir):
    config = TrainConfig.load(os.path.join(run_dir, "config.json"))
    assert config.model.modalities == ("text", "audio", "video") and config.epochs == 1
    # The data it used, spelt out: a replay trains on the same data.
    assert config.dataset == "sample" and config.dataset_version
    assert os.path.isabs(config.data_dir)
    assert config.precision in ("fp32", "bf16")  # What it used, never "auto".
    metrics = recorded(run_dir)
    assert metrics["dataset"] == "sample" and metrics["epochs_run"] == 1
    for split in ("validation", "test"):
        for head, size in (("emotion", 7), ("sentiment", 3)):
            scores = metrics[split][head]
            assert all(0.0 <= scores[k] <= 1.0 for k in ("accuracy", "weighted_f1", "macro_f1"))
            assert np.array(scores["confusion_matrix"]).shape == (size, size)
            assert np.sum(scores["confusion_matrix"]) == metrics["num_examples"][split]
    history = run_folder.read_history(run_dir)
    assert len(history) == 1 and "val_emotion_weighted_f1" in history[0]
    for name in ("confusion_test_emotion.png", "training_curves.png"):
        with open(os.path.join(run_dir, name), "rb") as file:
            assert file.read(4) == b"\x89PNG"
    report = open(os.path.join(run_dir, "classification_report.txt")).read()
    assert "test / emotion" in report and "weighted avg" in report
    assert not os.path.exists(os.path.join(run_dir, "backup"))  # Deleted: the run finished.
    # The dev and test probabilities the scores came from, for later analysis.
    predictions = run_folder.read_predictions(run_dir)
    for split in ("validation", "test"):
        labels, probabilities = predictions[split]
        assert probabilities["emotion"].shape == (metrics["num_examples"][split], 7)
        for head in ("emotion", "sentiment"):
            confusion = np.zeros_like(metrics[split][head]["confusion_matrix"])
            np.add.at(confusion, (labels[head], probabilities[head].argmax(-1)), 1)
            np.testing.assert_array_equal(confusion, metrics[split][head]["confusion_matrix"])
    assert sum(metrics["train_emotion_counts"].values()) == metrics["num_examples"]["train"]


def test_evaluate_reproduces_the_recorded_metrics(run_dir, capsys):
    for split in ("validation", "test"):
        assert evaluate_json(run_dir, split, capsys) == recorded(run_dir)[split]


def test_a_run_saved_before_the_task_model_still_evaluates(run_dir, tmp_path, capsys):
    """A run folder whose ``model.keras`` is a plain functional model (as runs were saved
    before `meld_tf.task.MeldClassifier`) reopens as a classifier with its recorded
    metrics."""
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    model = keras.models.load_model(old / "model.keras")
    keras.Model(model.input, model.output, name=model.name).save(old / "model.keras")
    assert type(keras.models.load_model(old / "model.keras")).__name__ == "Functional"
    reopened = MeldClassifier.from_run(str(old))
    assert isinstance(reopened, MeldClassifier) and reopened.preprocessor is not None
    assert evaluate_json(old, "test", capsys) == recorded(run_dir)["test"]


def test_predict_clips_text_and_a_corrupt_file(run_dir, tmp_path, capsys):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 48, 64, 3), dtype=np.uint8)
    audio = (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    full, silent = tmp_path / "full.mp4", tmp_path / "silent.mp4"
    write_clip(full, frames=frames, audio=audio)
    write_clip(silent, frames=frames)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not an mp4 at all")
    clips = [str(full), str(silent), str(corrupt)]
    texts = ["Oh my God!", "", "What?"]
    argv = [str(run_dir), *clips, *sum((["--text", t] for t in texts), []), "--json"]
    capsys.readouterr()
    assert predict.main(argv) == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["input"] for a in answers] == clips
    assert "corrupt.mp4" in answers[2]["error"]
    for answer in answers[:2]:
        for head in ("emotion", "sentiment"):
            probabilities = answer[head]["probabilities"]
            assert answer[head]["label"] == max(probabilities, key=probabilities.get)
            assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert sum(answer["fusion_weights"].values()) == pytest.approx(1.0, abs=1e-4)
    assert answers[0]["absent"] == {}
    # No audio track and an empty text: both masked, all the weight on video.
    assert set(answers[1]["absent"]) == {"audio", "text"}
    assert answers[1]["fusion_weights"]["video"] == pytest.approx(1.0, abs=1e-4)


def test_predict_text_only_and_all_failed(run_dir, tmp_path, capsys):
    capsys.readouterr()
    assert predict.main([str(run_dir), "--text", "I am so happy!"]) == 0
    out = capsys.readouterr().out
    assert "emotion" in out and "audio masked: no clip given" in out
    assert predict.main([str(run_dir), str(tmp_path / "missing.mp4")]) == 1
    error = capsys.readouterr().err
    assert "missing.mp4" in error and "missing clip" in error


def test_predict_csv_of_many(run_dir, tmp_path, capsys):
    write_clip(tmp_path / "a.mp4", frames=np.zeros((4, 32, 32, 3), np.uint8))
    (tmp_path / "many.csv").write_text("clip,text\na.mp4,hello\n,how you doing\n")
    capsys.readouterr()
    assert predict.main([str(run_dir), "--csv", str(tmp_path / "many.csv"), "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert len(answers) == 2 and all("error" not in a for a in answers)
    assert answers[0]["input"].endswith("a.mp4")


@pytest.mark.parametrize(
    "flags",
    [
        ["--modalities", "text", "--fusion", "concat", "--context", "2",
         "--text-encoder", "bert", "--text-preset", "bert_tiny", "--class-weights", "balanced"],
        pytest.param(["--modalities", "audio", "video", "--fusion", "late",
                      "--audio-features", "mfcc", "--video-source", "frames"],
                     marks=pytest.mark.large),
    ],  # fmt: skip
    ids=["text-concat-context-bert", "audio-video-late"],
)
def test_other_modalities_and_fusions(sample_data_dir, tmp_path, capsys, flags):
    run = run_train(sample_data_dir, tmp_path / "run", *flags)
    assert evaluate_json(run, "test", capsys) == recorded(run)["test"]
    # A text-only input: answered by a text model, an error (exit 1) for audio + video.
    assert predict.main([run, "--text", "Hi."]) == (0 if "text" in flags else 1)


def test_logit_adjustment_is_chosen_on_dev_and_kept_in_the_model(sample_data_dir, tmp_path,
                                                                  capsys):
    """--logit-adjustment: tau chosen on dev, the model's bias -tau log(train prior); the
    recorded dev score is the best of the taus tried, and evaluate and predict apply it."""
    run = run_train(sample_data_dir, tmp_path / "run", "--modalities", "text",
                    "--logit-adjustment", "macro_f1")  # fmt: skip
    metrics = recorded(run)
    adjustment = metrics["logit_adjustment"]
    assert adjustment["score"] == "macro_f1" and adjustment["tau"] in calibration.TAUS
    counts = [metrics["train_emotion_counts"][emotion] for emotion in EMOTIONS]
    model = MeldClassifier.from_run(run)
    np.testing.assert_allclose(model.get_layer("emotion").bias,
                               calibration.prior_bias(counts, adjustment["tau"]), rtol=1e-6)
    assert metrics["validation"]["emotion"]["macro_f1"] >= adjustment["validation_unadjusted"]
    assert evaluate_json(run, "test", capsys) == metrics["test"]
    assert predict.main([run, "--text", "Hi."]) == 0


def test_interrupted_run_resumes_at_the_next_epoch(sample_data_dir, tmp_path, capsys):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    flags = [*TINY, "--modalities", "text", "--epochs", "2", "--patience", "5"]
    config = train.config_from_args(
        train.build_parser().parse_args(
            [*flags, "--bucket-by-length", "--data-dir", str(sample_data_dir),
             "--out", str(tmp_path / "run")]
        )
    )  # fmt: skip
    assert config.bucket_by_length  # Resuming across epochs with bucketed batches too.
    with pytest.raises(KeyboardInterrupt):
        trainer.train(config, callbacks=[Interrupt()])
    assert len(run_folder.read_history(tmp_path / "run")) == 1
    capsys.readouterr()
    run = trainer.train(config)  # The same command again.
    captured = capsys.readouterr()
    out = captured.out
    assert "(resuming)" in out and "Epoch 2/2" in out and "Epoch 1/2" not in out
    # Not a terminal: one progress line per epoch, no carriage returns, no bars.
    assert "\r" not in out + captured.err
    assert len([line for line in out.splitlines() if "/step" in line]) == 1, out
    assert [int(row["epoch"]) for row in run_folder.read_history(run)] == [0, 1]
    assert recorded(run)["epochs_run"] == 2


@pytest.mark.parametrize("monitor", ["val_emotion_weighted_f1", "val_loss"])
def test_the_model_is_the_best_epoch_by_the_monitor(sample_data_dir, tmp_path, monitor):
    run = run_train(sample_data_dir, tmp_path / "run", "--modalities", "text", "--epochs", "4",
                    "--patience", "9", "--lr-patience", "9", "--monitor", monitor)  # fmt: skip
    history = run_folder.read_history(run)
    values = [float(row[monitor]) for row in history]
    best = (max if monitor.endswith("f1") else min)(range(len(values)), key=values.__getitem__)
    assert recorded(run)["best_epoch"] == best + 1
    assert recorded(run)["selection"].startswith(f"best epoch by {monitor}")
    # The saved model is that epoch's: it scores on validation what that epoch logged.
    scores = recorded(run)["validation"]["emotion"]
    assert scores["weighted_f1"] == pytest.approx(float(history[best]["val_emotion_weighted_f1"]),
                                                  abs=1e-4)  # fmt: skip


def test_evaluate_with_a_modality_dropped(run_dir, capsys):
    capsys.readouterr()
    argv = [str(run_dir), "--split", "test", "--drop-modality", "audio", "video", "--json"]
    assert evaluate.main(argv) == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out)["test"]
    assert "Dropped audio video: not compared" in captured.err
    matrix = np.array(metrics["emotion"]["confusion_matrix"])
    assert matrix.sum() == recorded(run_dir)["num_examples"]["test"]
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main([str(run_dir), "--drop-modality", "smell"])
    assert exit_info.value.code == 2
    assert "the model's modality masks are" in capsys.readouterr().err


def test_drop_modalities_zeroes_only_their_masks():
    ones = np.ones(4, np.float32)
    inputs = {"text_token_ids": np.ones((4, 3), np.int32), "text_mask": ones,
              "audio_features": np.ones((4, 5, 2), np.float32), "audio_mask": ones}
    batches = tf.data.Dataset.from_tensor_slices((inputs, np.zeros(4))).batch(2)
    for dropped, labels in evaluate.drop_modalities(batches, ["audio"]):
        assert np.all(dropped["audio_mask"].numpy() == 0) and np.all(dropped["text_mask"] == 1)
        assert np.all(dropped["audio_features"] == 1) and labels.shape == (2,)
    with pytest.raises(ValueError, match="Cannot drop"):
        evaluate.drop_modalities(batches, ["video"])


def test_replay_config_and_finished_folder_refused(run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--config", os.path.join(run_dir, "config.json"), "--out", str(run_dir)])
    assert "already holds a finished run" in capsys.readouterr().err
    parsed = train.build_parser().parse_args(["--config", os.path.join(run_dir, "config.json")])
    replay = train.config_from_args(parsed)
    assert replay == TrainConfig.load(os.path.join(run_dir, "config.json"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--modalities", "smell"], "invalid choice: 'smell'"),
        (["--dropout", "2"], "dropout 2.0 (--dropout) must be at least 0 and less than 1"),
        (["--batch-size", "0"], "batch_size 0 (--batch-size) must be at least 1"),
        (["--loss-weights", "1"], "expected 2 arguments"),
        (["--dataset", "text", "--modalities", "audio"], "text only"),
        (["--config", "/no/such/config.json"], "Cannot read the run config"),
    ],
)
def test_bad_flags_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_evaluate_and_predict_refuse_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate.main([str(tmp_path)])
    assert "not a finished run folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        predict.main([str(tmp_path)])
    assert "nothing to predict" in capsys.readouterr().err
