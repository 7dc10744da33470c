"""The build summary: how many clips decoded, which were skipped and why, by key."""

import collections


class BuildReport:
    """Collects what happened to every example of a build and formats it.

    ``add_row(split, key)`` for every example written, ``add_clip(split, key, result)`` for
    every decoded clip (a `meld_tf.data.media.ClipResult`), ``add_unused(split, names)`` for
    clips that no CSV row refers to.
    """

    def __init__(self, config_name, sample_version=None):
        self.config_name = config_name
        self.sample_version = sample_version
        self.rows = collections.Counter()
        self.decoded = collections.Counter()  # both audio and video
        self.no_face = collections.Counter()
        self.problems = {}  # key -> reason, in build order
        self.unused = {}  # split -> clip file names

    def add_row(self, split, key):
        self.rows[split] += 1

    def add_clip(self, split, key, result):
        if result.has_audio and result.has_video:
            self.decoded[split] += 1
        if result.reason:
            self.problems[key] = result.reason
        if result.has_video and not result.has_face:
            self.no_face[split] += 1

    def add_unused(self, split, names):
        if names:
            self.unused[split] = sorted(names)

    @property
    def num_skipped(self):
        """Examples written without some of their media."""
        return len(self.problems)

    def format(self):
        """The summary as text (one line per split, one per clip with a problem)."""
        version = f", sample version {self.sample_version}" if self.sample_version else ""
        lines = [f"MELD build summary (config {self.config_name!r}{version}):"]
        for split, rows in self.rows.items():
            line = f"  {split}: {rows} examples"
            if self.config_name != "text":
                skipped = sum(k.startswith(f"{split}/") for k in self.problems)
                line += (
                    f"; {self.decoded[split]} clips decoded (audio and video), "
                    f"{skipped} with media missing; {self.no_face[split]} clips with "
                    f"video but no face found (centre crop)"
                )
            lines.append(line)
        if self.problems:
            lines.append(
                f"  {len(self.problems)} examples kept with their text but without some media "
                "(has_audio / has_video False):"
            )
            lines += [f"    {key}: {reason}" for key, reason in self.problems.items()]
        for split, names in self.unused.items():
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            lines.append(f"  {split}: {len(names)} clips without a CSV row, not used: {shown}")
        return "\n".join(lines)
