"""Plots of a run: confusion matrices and training curves (matplotlib, Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Curves drawn per head: (log key, label).
CURVES = (("loss", "loss"), ("weighted_f1", "weighted F1"), ("macro_f1", "macro F1"))


def plot_confusion_matrix(confusion, class_names, path, title=""):
    """Saves a confusion matrix (rows true, columns predicted), counts and row shares."""
    confusion = np.asarray(confusion)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.7 * len(class_names)
    figure, axis = plt.subplots(figsize=(size + 1.5, size))
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axis, label="share of the true class")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            colour = "white" if shares[i, j] > 0.5 else "black"
            axis.text(j, i, str(confusion[i, j]), ha="center", va="center", color=colour)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_training_curves(history, path):
    """Saves loss and F1 per epoch, train and validation, from ``history.csv`` rows."""
    if not history:
        return
    epochs = [int(row["epoch"]) + 1 for row in history]
    figure, axes = plt.subplots(1, len(CURVES), figsize=(5 * len(CURVES), 4))
    for axis, (key, label) in zip(axes, CURVES):
        for prefix, style in (("", "-"), ("val_", "--")):
            names = [key] if key == "loss" else [f"emotion_{key}", f"sentiment_{key}"]
            for name in names:
                column = prefix + name
                if column not in history[0]:
                    continue
                values = [float(row[column]) for row in history]
                axis.plot(epochs, values, style, marker="o", label=column)
        axis.set_xlabel("epoch")
        axis.set_title(label)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
