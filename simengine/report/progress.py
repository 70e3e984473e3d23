"""The one progress display of long commands (run, sweep, calibrate's check).

    with Progress("default (7 strategies, 2 threads)", total=1000) as bar:
        engine.run(scn, progress=bar)             # bar(done, total) after each chunk

On a terminal (stderr) a rich bar, one line:

    default (7 strategies, 2 threads) ━━━━━━╸ 333,333/1,000,000 paths 1:02, 2:04 left

the label, the bar, done/total, an optional status text ("3/10 points"),
the time elapsed and the time left. When the terminal is narrow the label
and the bar give way, never a number. Elsewhere (a pipe, a log) one line at
the start, so that a log says what was started; nothing per chunk.
"""
from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, ProgressColumn
from rich.progress import Progress as RichProgress
from rich.segment import Segment
from rich.table import Column
from rich.text import Text

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


# The line: label, bar, count and status, times. rich shrinks every column
# that may wrap when a line is too long, numbers included (it cut them:
# "elapsed 0:00:... left -:--:..."), so only the label-and-bar column may:
# within it the bar gives way first (to BAR_MIN columns), then the label,
# cut with an ellipsis.
BAR_WIDTH, BAR_MIN = 40, 6
_FIXED = Column(no_wrap=True)


def _clock(seconds) -> str:
    """`1:02`, `1:02:03`; `-:--` when not known yet."""
    if seconds is None:
        return "-:--"
    minutes, s = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{s:02d}" if hours else f"{minutes}:{s:02d}"


class _LabelAndBar(ProgressColumn):
    def __init__(self):
        super().__init__()
        self.bar = BarColumn(bar_width=None)

    def render(self, task):
        return _Fit(Text(task.description), self.bar.render(task))


class _Fit:
    """The label, then the bar in the room left (at most BAR_WIDTH)."""

    def __init__(self, label, bar):
        self.label, self.bar = label, bar

    def __rich_measure__(self, console, options):
        return Measurement(0, min(options.max_width, self.label.cell_len + 1 + BAR_WIDTH))

    def __rich_console__(self, console, options):
        width = options.max_width
        room = min(self.label.cell_len, width - 1 - BAR_MIN)
        if room > 0:            # segments: a Text would be padded to the whole width
            label = self.label.copy()
            label.truncate(room, overflow="ellipsis")
            yield from label.render(console)
            yield Segment(" ")
            width -= room + 1
        self.bar.width = min(BAR_WIDTH, width)
        if self.bar.width > 0:
            yield self.bar


class _Count(ProgressColumn):
    """`333,333/1,000,000 paths`, then the status text (`3/10 points`)."""

    def __init__(self, unit):
        super().__init__(table_column=_FIXED)
        self.unit = unit

    def render(self, task) -> Text:
        total = "?" if task.total is None else f"{int(task.total):,}"
        status = task.fields.get("status") or ""
        return Text(f"{int(task.completed):,}/{total} {self.unit}"
                    + (f" {status}" if status else ""))


class _Times(ProgressColumn):
    """`1:02, 2:04 left`: the time elapsed, then the time left."""

    def __init__(self):
        super().__init__(table_column=_FIXED)

    def render(self, task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        return Text(f"{_clock(elapsed)}, {_clock(task.time_remaining)} left")


def rich_bar(unit="paths", console=None, **kwargs) -> RichProgress:
    """The bar's rich display (`console`: default stderr); `kwargs` go to
    rich's Progress (a test passes `get_time`)."""
    return RichProgress(_LabelAndBar(), _Count(unit), _Times(),
                        console=console or Console(stderr=True), transient=False, **kwargs)


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
            self.bar = rich_bar(self.unit)
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
