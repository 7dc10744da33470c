"""Hyperparameter search for meld-tf with KerasTuner.

    python tuning/search.py --modalities text audio --tuner hyperband --max-trials 20
    python tuning/search.py --resume --out tuning_runs/<name>     # continue a search
    python tuning/search.py --summary tuning_runs/<name>          # table of trials

The base flags are those of ``python -m meld_tf.train``; they are the defaults of every
hyperparameter (see ``tuning.hypermodel.SearchSpace``). Each trial trains with the
training CLI's own data pipeline, compile and callbacks (early stopping included). The
search folder holds ``search.json`` (the settings, for ``--resume``), KerasTuner's
``trials/`` project and, when the search ends, ``config.json``: the best trial as a
``TrainConfig`` for ``python -m meld_tf.train --config``. Nothing is retrained here.

The settings of a search are ``tuning.settings.SearchSettings``, its tuners those of
``tuning.tuners``; this module runs a search (`search`) and is its command line (`main`).

Distributed: run the same command as a chief and as workers, with KerasTuner's
environment variables ``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ``tuner1``, ...),
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT`` and one ``--out`` on a shared disk.
"""

import dataclasses
import os
import sys
import time

if __package__ in (None, ""):  # run as `python tuning/search.py`: import the repository's `tuning`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_tuner  # noqa: E402

from meld_tf import train as train_cli  # noqa: E402
from meld_tf.run_data import resolve_data  # noqa: E402
from meld_tf.workarounds import cap_hyperband_trials, set_option_help  # noqa: E402
from tuning.hypermodel import MeldHyperModel, SearchSpace, sample_config  # noqa: E402
from tuning.settings import SearchSettings, logged_metrics, objective_direction  # noqa: E402
from tuning.summary import format_table, load_trials  # noqa: E402
from tuning.tuners import TUNERS, is_distributed, is_worker  # noqa: E402

SEARCH_FILE = "search.json"
BEST_CONFIG = "config.json"
PROJECT = "trials"


def make_tuner(settings, out):
    """The KerasTuner tuner of ``settings`` on the folder ``out`` (reloaded if it exists)."""
    objective = keras_tuner.Objective(settings.objective, objective_direction(settings.objective))
    common = {
        "hypermodel": MeldHyperModel(settings.base, settings.space),
        "objective": objective,
        "seed": settings.base.seed,
        "directory": out,
        "project_name": PROJECT,
        "overwrite": False,
    }
    if settings.tuner == "hyperband":
        tuner = TUNERS["hyperband"](
            max_epochs=settings.base.epochs, factor=settings.factor, **common
        )
        if not is_worker():
            cap_hyperband_trials(tuner, settings.max_trials)  # a cap on its own schedule
        return tuner
    return TUNERS[settings.tuner](max_trials=settings.max_trials, **common)


def best_config(out, settings):
    """The ``TrainConfig`` of the best completed trial in ``out``; ValueError if none."""
    trials = load_trials(os.path.join(out, PROJECT))
    if not trials or trials[0]["score"] is None:
        raise ValueError(f"No completed trial in {out}; nothing to write.")
    path = os.path.join(out, PROJECT, f"trial_{trials[0]['trial_id']}", "trial.json")
    hp = keras_tuner.engine.trial.Trial.load(path).hyperparameters
    config = sample_config(hp, settings.base, settings.space).replace(out="")
    return resolve_data(config)[0]  # The data the trials used, spelt out.


def search(settings, out, verbose=1):
    """Runs (or resumes) the search of ``settings`` in ``out``.

    Returns the trials (as ``tuning.summary.load_trials``), best first. The chief of a
    distributed search, or a single process, also writes the best trial's config to
    ``out/config.json`` (if a trial completed).
    """
    os.makedirs(out, exist_ok=True)
    if not is_worker():
        settings.save(os.path.join(out, SEARCH_FILE))
    tuner = make_tuner(settings, out)
    tuner.search(epochs=settings.base.epochs, verbose=verbose)
    trials = load_trials(os.path.join(out, PROJECT))
    if not is_worker() and trials and trials[0]["score"] is not None:
        best_config(out, settings).save(os.path.join(out, BEST_CONFIG))
    return trials


def build_parser():
    """The training CLI's parser (``meld_tf.train.build_parser``) plus the search flags."""
    parser = train_cli.build_parser()
    parser.prog = "python tuning/search.py"
    parser.description = (
        "Hyperparameter search with KerasTuner. The flags of meld_tf.train set the base "
        "config (the defaults of every hyperparameter); --out is the search folder."
    )
    set_option_help(  # --out names the search folder here.
        parser, "--out", "search folder (default: tuning_runs/<timestamp>-<tuner>-<modalities>)"
    )
    group = parser.add_argument_group("search")
    group.add_argument(
        "--tuner", choices=sorted(TUNERS), default=None, help="algorithm (default: hyperband)"
    )
    group.add_argument("--max-trials", type=int, default=None, help="most trials (default: 20)")
    group.add_argument(
        "--max-epochs", type=int, default=None,
        help="epoch budget of one trial, Hyperband's max_epochs (default: --epochs)",
    )  # fmt: skip
    group.add_argument(
        "--objective", default=None,
        help="validation log key to maximise (a loss is minimised; default: "
        f"val_emotion_weighted_f1), one of: "
        f"{', '.join(logged_metrics())}",
    )  # fmt: skip
    group.add_argument("--factor", type=int, default=None, help="Hyperband factor (default: 3)")
    group.add_argument("--space", default=None, help="JSON file overriding SearchSpace fields")
    group.add_argument(
        "--resume", action="store_true", help="continue the search in --out with its settings"
    )
    group.add_argument("--summary", metavar="DIR", help="print the trial table of DIR and exit")
    return parser


def settings_from_args(args, parser):
    """The ``SearchSettings`` of parsed flags, or of ``--out/search.json`` with ``--resume``
    (where only ``--max-trials`` may change)."""
    if args.resume:
        if not args.out:
            parser.error("--resume needs --out, the folder of the search to continue.")
        settings = SearchSettings.load(os.path.join(args.out, SEARCH_FILE))
        given = sorted(
            f"--{name.replace('_', '-')}" for name, value in vars(args).items()
            if name not in ("resume", "out", "max_trials") and value not in (None, False)
        )
        if given:
            parser.error(
                f"--resume takes its settings from {args.out}/{SEARCH_FILE}; only --max-trials "
                f"may change, but {', '.join(given)} given."
            )
        if args.max_trials is not None:
            settings = dataclasses.replace(settings, max_trials=args.max_trials)
        return settings
    base = train_cli.config_from_args(args).replace(out="")
    if args.max_epochs is not None:
        base = base.replace(epochs=args.max_epochs)
    search_flags = {
        "tuner": args.tuner,
        "objective": args.objective,
        "max_trials": args.max_trials,
        "factor": args.factor,
    }
    return SearchSettings(
        base=base,
        space=SearchSpace.load(args.space) if args.space else SearchSpace(),
        **{name: value for name, value in search_flags.items() if value is not None},
    )


def _default_out(settings):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "-".join([stamp, settings.tuner, *settings.base.model.modalities])
    return os.path.join("tuning_runs", name)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.summary:
        try:
            settings = SearchSettings.load(os.path.join(args.summary, SEARCH_FILE))
        except ValueError as error:
            parser.error(f"--summary needs a search folder: {error}")
        print(format_table(load_trials(os.path.join(args.summary, PROJECT)), settings.objective))
        return 0
    try:
        settings = settings_from_args(args, parser)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    out = args.out or _default_out(settings)
    if not args.resume and not is_worker() and os.path.exists(os.path.join(out, SEARCH_FILE)):
        parser.error(f"{out} already holds a search; pass --resume to continue it, or a new --out.")
    role = os.environ.get("KERASTUNER_TUNER_ID", "single") if is_distributed() else "single"
    print(f"Search {settings.tuner} ({role}) in {out}: objective {settings.objective}, "
          f"up to {settings.max_trials} trials of up to {settings.base.epochs} epochs.")
    start = time.perf_counter()
    trials = search(settings, out)
    print(f"\nSearch finished in {time.perf_counter() - start:.1f} s.")
    if is_worker():
        mine = [t["trial_id"] for t in trials if t["tuner_id"] == os.environ["KERASTUNER_TUNER_ID"]]
        print(f"This worker ran trials {mine}; the chief writes the results.")
        return 0
    print(format_table(trials, settings.objective))
    if not trials or trials[0]["score"] is None:
        print(f"\nNo trial completed; the errors are in {out}/{PROJECT}/trial_*/trial.json.")
        return 1
    config_path = os.path.join(out, BEST_CONFIG)
    print(f"\nBest config: {config_path}")
    print(f"Retrain it with: python -m meld_tf.train --config {config_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
