"""Progress bars for long data work (unpacking, decoding, generating) that suit any output.

On a terminal the bar redraws in place; when stderr is a file or a pipe (CI, ``nohup``, a
notebook's log) it writes at most one line a minute, so logs stay small.
"""

import sys

from tqdm import tqdm

LOG_INTERVAL_SECONDS = 60.0


def progress_bar(iterable=None, **kwargs):
    """`tqdm` with a count, a rate and an ETA; sparse when stderr is not a terminal."""
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", LOG_INTERVAL_SECONDS)
    return tqdm(iterable, **kwargs)
