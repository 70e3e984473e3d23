"""The one progress display of long commands (run, sweep, calibrate's check).

    with Progress("default (7 strategies, 2 threads)", total=1000) as bar:
        engine.run(scn, progress=bar)             # bar(done, total) after each chunk

On a terminal (stderr) a rich bar: done/total, elapsed, time left and an
optional status text ("3/10 points"). Elsewhere (a pipe, a log) one line
at the start, so that a log says what was started; nothing per chunk.
"""
from __future__ import annotations

import sys
import time

PROG = "simengine"


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def plural(n, stem, one="", many="s") -> str:
    """`1 path`, `2 paths`; plural(n, "strateg", "y", "ies")."""
    return f"{n:,} {stem}{one if n == 1 else many}"


class Progress:
    """Progress towards `total` units (paths by default).

    `enabled`: the bar (default: when stderr is a terminal); `announce`: the
    start line printed when the bar is off; `status`: text shown after the
    count, changed with `status(text)`. Call it as `bar(done, total)` (the
    engine's progress callback) or `bar.advance(n)`."""

    def __init__(self, label, total, unit="paths", enabled=None, announce=True, status=""):
        self.label, self.total, self.unit = label, total, unit
        self.enabled = _is_tty(sys.stderr) if enabled is None else bool(enabled)
        self.announce = announce
        self.text = status
        self.bar = self.task = None
        self.start = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("{task.description}"), BarColumn(),
                           MofNCompleteColumn(), TextColumn(self.unit),
                           TextColumn("{task.fields[status]}"),
                           TextColumn("elapsed"), TimeElapsedColumn(),
                           TextColumn("left"), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=False)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=max(self.total, 1),
                                          status=self.text)
        elif self.announce:
            print(f"{PROG}: {self.label}: running {self.total:,} {self.unit} ...",
                  file=sys.stderr, flush=True)
        return self

    def __call__(self, done, total=None):
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total or self.total)

    def advance(self, n):
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def status(self, text):
        self.text = text
        if self.bar is not None:
            self.bar.update(self.task, status=text)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
