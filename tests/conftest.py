"""Shared pytest setup: quiet TensorFlow, the --run-large flag, and the shared sample."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--run-large", action="store_true", default=False, help="also run tests marked large"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-large"):
        return
    skip_large = pytest.mark.skip(reason="large test: run with --run-large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip_large)
