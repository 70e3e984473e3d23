"""The one progress display of long commands (run, sweep, calibrate's check).

    with Progress("default (7 strategies, 2 threads)", total=1000) as bar:
        engine.run(scn, progress=bar)             # bar(done, total) after each chunk

On a terminal (stderr) a rich bar: done/total, elapsed, time left and an
optional status text ("3/10 points"). Elsewhere (a pipe, a log) one line
at the start, so that a log says what was started; nothing per chunk.
"""
from __future__ import annotations

import sys
import threading
import time

PROG = "simengine"
# what a phase reported by the engine is shown as
PHASE_QUIET = 1.0
PHASES = {"compiling": "compiling (first run only)", "simulating": None, "running": None}


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
    engine's progress callback) or `bar.advance(n)`.

    A phase before the work (`bar(0, total, phase="compiling")` or
    `bar.phase("compiling")`) shows after the label, so that a first run
    says it is compiling rather than sitting at 0; the first paths done
    clear it. Off a terminal each phase is one line."""

    def __init__(self, label, total, unit="paths", enabled=None, announce=True, status=""):
        self.label, self.total, self.unit = label, total, unit
        self.enabled = _is_tty(sys.stderr) if enabled is None else bool(enabled)
        self.announce = announce
        self.text = status
        self.bar = self.task = None
        self.start = None
        self.current_phase = None
        self._timer = None

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

    def __call__(self, done, total=None, phase=None):
        if phase is not None:
            self.phase(phase)
        elif done and self.current_phase is not None:
            self.phase(None)
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total or self.total)

    def phase(self, name):
        """Show what happens before the paths run (None: nothing). Off a
        terminal the line is printed only once the phase has lasted
        PHASE_QUIET seconds, so a log is not told of a compile that was a
        0.1 s load from numba's cache."""
        text = PHASES.get(name, name)
        if text == self.current_phase:
            return
        self.current_phase = text
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.bar is not None:
            self.bar.update(self.task, description=self.label + (f": {text}" if text else ""))
        elif text and self.announce:
            line = f"{PROG}: {self.label}: {text} ..."
            self._timer = threading.Timer(
                PHASE_QUIET, lambda: print(line, file=sys.stderr, flush=True))
            self._timer.daemon = True
            self._timer.start()

    def advance(self, n):
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def status(self, text):
        self.text = text
        if self.bar is not None:
            self.bar.update(self.task, status=text)

    def __exit__(self, *exc):
        self.phase(None)
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
