"""The notebooks in notebooks/ run top to bottom (nbclient) on the built-in sample.

Each notebook's ``parameters`` cell is replaced by tiny settings; the kernel runs in a
temporary folder, so nothing is written in the repository.
"""

import glob
import json
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT_S = 240
TINY_MODEL = {
    "text_encoder": "bilstm", "text_max_length": 16, "text_vocab_size": 200,
    "latent_dim": 8, "hidden_dim": 8, "audio_seconds": 1.0, "num_mel_bins": 8,
    "audio_conv_filters": (4,), "audio_lstm_units": 4, "num_frames": 2, "frame_size": 16,
    "video_encoder": "conv3d", "video_width": 4,
}  # fmt: skip


def parameters(data_dir):
    """The tiny parameters of each notebook: ``{notebook: {name: value}}``."""
    common = {"repo_url": "", "data_dir": str(data_dir), "dataset": "sample"}
    return {
        "01_quickstart.ipynb": {
            **common, "use_drive": False, "manual_dir": "", "epochs": 1, "batch_size": 16,
            "max_examples": 48, "learning_rate": 3e-3, "model_sizes": TINY_MODEL,
            "num_shown": 2,
        },
        "02_meld_text.ipynb": {
            **common, "use_drive": False, "manual_dir": "", "max_examples": 48, "context": 1,
            "text_preset": "bert_tiny", "text_max_length": 24, "epochs": 1, "batch_size": 16,
            "learning_rate": 1e-3, "class_weights": "balanced", "precision": "fp32",
            "num_mistakes": 5,
        },
        "03_tuning.ipynb": {
            **common, "max_examples": 64, "modalities": ("text",), "tuner": "random",
            "max_trials": 2, "epochs": 1, "objective": "val_emotion_weighted_f1",
            "model_sizes": {
                "text_encoder": "bilstm", "text_max_length": 16, "text_vocab_size": 200,
                "text_embedding_dim": 8, "text_lstm_units": 4,
            },
            "space": {"learning_rate": (1e-3, 1e-2), "hidden_dim": (4, 8), "latent_dim": (4, 8)},
            "search_dir": "search",
        },
    }  # fmt: skip


def parameters_cell(notebook):
    """The notebook's cell tagged ``parameters`` (exactly one)."""
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells tagged 'parameters'"
    return cells[0]


def execute(name, values, workdir):
    """Runs notebook ``name`` with ``values`` as its parameters; returns it executed."""
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = parameters_cell(notebook)
    names = {line.split("=")[0].strip() for line in cell.source.splitlines()
             if "=" in line and not line.startswith(("#", " "))}  # fmt: skip
    assert names == set(values), f"{name}: parameters {sorted(names ^ set(values))} differ"
    cell.source = "\n".join(f"{key} = {value!r}" for key, value in values.items())
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # Raises CellExecutionError, naming the cell, if any cell fails.
    return notebook


def images(notebook):
    """Number of PNG images displayed by the notebook's cells."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs
    )  # fmt: skip


def text_of(notebook):
    """Everything the code cells printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_notebooks_are_committed_without_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        parameters_cell(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.fixture(scope="module")
def tiny(sample_data_dir):
    return parameters(sample_data_dir)


@pytest.mark.large
def test_quickstart_trains_and_shows_clips(tiny, tmp_path):
    notebook = execute("01_quickstart.ipynb", tiny["01_quickstart.ipynb"], tmp_path)
    (run_dir,) = glob.glob(str(tmp_path / "runs" / "*-text-audio-video"))
    with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as file:
        metrics = json.load(file)
    assert metrics["dataset"] == "sample" and metrics["num_examples"]["test"] == 48
    # Run plots (one figure) + one figure per shown clip.
    assert images(notebook) >= 3
    printed = text_of(notebook)
    assert "Test:" in printed and "weight_video" in printed


@pytest.mark.large
def test_text_notebook_lists_mistakes_and_neutral_confusion(tiny, tmp_path):
    notebook = execute("02_meld_text.ipynb", tiny["02_meld_text.ipynb"], tmp_path)
    (run_dir,) = glob.glob(str(tmp_path / "runs" / "*-text"))
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as file:
        config = json.load(file)
    assert config["context"] == 1 and config["model"]["text_preset"] == "bert_tiny"
    printed = text_of(notebook)
    assert "test / emotion" in printed and "other emotion" in printed
    assert "emotion_p_true" in printed and images(notebook) >= 1


@pytest.mark.large
def test_tuning_notebook_writes_the_best_config(tiny, tmp_path):
    notebook = execute("03_tuning.ipynb", tiny["03_tuning.ipynb"], tmp_path)
    trials = glob.glob(str(tmp_path / "search" / "trials" / "trial_*" / "trial.json"))
    assert len(trials) == 2
    best = json.loads((tmp_path / "search" / "config.json").read_text())
    assert best["model"]["hidden_dim"] in (4, 8) and best["epochs"] == 1
    printed = text_of(notebook)
    assert "val_emotion_weighted_f1" in printed and "python -m meld_tf.train --config" in printed
    assert images(notebook) >= 1
