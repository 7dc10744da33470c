"""Sections of ``bench/RESULTS.md`` that a benchmark rewrites, between its two markers."""

import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def write_section(path, text, start, end):
    """Replaces the section of ``path`` from marker ``start`` to marker ``end`` with
    ``text`` (which begins with ``start`` and ends with ``end``), or appends it."""
    if not (text.startswith(start) and text.rstrip("\n").endswith(end)):
        raise ValueError(f"a section must run from {start} to {end}")
    content = ""
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as file:
            content = file.read()
    if start in content and end in content:
        content = content[: content.index(start)] + text.rstrip("\n") + content[
            content.index(end) + len(end):]
    else:
        content = content.rstrip("\n") + ("\n\n" if content else "") + text.rstrip("\n") + "\n"
    with open(path, "w", encoding="utf-8") as file:
        file.write(content)


def command_line(script, argv=None):
    """How the benchmark ``script`` was called: ``python bench/<script> <arguments>``."""
    return " ".join([f"python bench/{script}", *(sys.argv[1:] if argv is None else argv)])


def publish(text, path, start, end):
    """Prints a benchmark's section and, given a ``path``, writes it there."""
    print(text)
    if path:
        write_section(path, text, start, end)
        print(f"Wrote {path}")
