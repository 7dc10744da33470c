"""The settings of a search (`SearchSettings`, saved as ``search.json`` for ``--resume``) and
the objectives it may take (`logged_metrics`, `objective_direction`).
"""

import dataclasses
import json

from meld_tf.labels import HEADS
from meld_tf.metrics import head_metrics
from meld_tf.train_config import TrainConfig
from tuning.hypermodel import SearchSpace
from tuning.tuners import TUNERS


def logged_metrics():
    """The validation log keys of a model compiled by ``MeldClassifier.compile()``
    (``val_loss``, ``val_emotion_weighted_f1``, ...): the names an objective may take."""
    names = ["val_loss"]
    for head, classes in HEADS.items():
        names.append(f"val_{head}_loss")
        names += [f"val_{head}_{metric.name}" for metric in head_metrics(len(classes))]
    return names


def objective_direction(name):
    """``"min"`` for a loss, ``"max"`` for a score."""
    return "min" if name.endswith("loss") else "max"


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """A whole search: written to ``search.json`` so that ``--resume`` replays it.

    Args:
        base: the ``TrainConfig`` every trial starts from; ``base.epochs`` is the epoch
            budget of one trial (Hyperband's ``max_epochs``).
        tuner: ``"random"``, ``"hyperband"`` or ``"bayesian"``.
        objective: validation log key to maximise (a loss is minimised).
        max_trials: most trials in all (for Hyperband a cap on its own schedule).
        factor: Hyperband's reduction factor.
        space: the ``SearchSpace``.
    """

    base: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    tuner: str = "hyperband"
    objective: str = "val_emotion_weighted_f1"
    max_trials: int = 20
    factor: int = 3
    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)

    def __post_init__(self):
        if isinstance(self.base, dict):
            object.__setattr__(self, "base", TrainConfig.from_dict(self.base))
        if isinstance(self.space, dict):
            object.__setattr__(self, "space", SearchSpace.from_dict(self.space))
        if self.tuner not in TUNERS:
            raise ValueError(f"Unknown tuner {self.tuner!r}; valid choices: {sorted(TUNERS)}.")
        if self.objective not in logged_metrics():
            raise ValueError(
                f"Objective {self.objective!r} is not a validation log key of the model; "
                f"valid choices: {', '.join(logged_metrics())}."
            )
        if self.max_trials < 1:
            raise ValueError(f"max_trials {self.max_trials} must be at least 1.")
        if self.factor < 2:
            raise ValueError(f"factor {self.factor} must be at least 2.")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        return cls(**values)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.to_dict(), file, indent=2)
            file.write("\n")

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as file:
                return cls.from_dict(json.load(file))
        except (OSError, json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"Cannot read the search settings {path}: {error}") from error
