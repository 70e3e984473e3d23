"""What every command shares: exit statuses, bad input, what a command
writes (so that an interrupt reports what is on disk), names and checks of
outputs."""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from .. import store

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PROG = "simengine"


class BadInput(Exception):
    """Bad input from the user: printed as is (one problem a line), exit 2."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that partial output is cleaned up."""


class Outputs:
    """What the running command writes, so that an interrupt reports what is
    on disk. `expect(path)`: a file or directory the command creates, whole
    or not at all (it did not exist before); `complete()`: every output is
    written; `hint`: what to do after an interrupt (e.g. rerun to resume)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.targets, self.done, self.hint = [], False, None

    def expect(self, path, what=None):
        self.targets.append((Path(path), what or str(path)))

    def complete(self):
        self.done = True

    def written(self) -> list:
        return [what for path, what in self.targets if path.exists()]

    def all_written(self) -> bool:
        return self.done or bool(self.targets) and len(self.written()) == len(self.targets)


outputs = Outputs()       # the running command's (one command per process or main call)


def err(msg=""):
    print(msg, file=sys.stderr, flush=True)


def debugging() -> bool:
    """SIMENGINE_DEBUG=1: tracebacks instead of one-line failures."""
    return os.environ.get("SIMENGINE_DEBUG", "") not in ("", "0")


# --------------------------------------------------------------------------
# Checks made before any work

def safe_name(name: str, limit=100) -> str:
    """A scenario name made safe as one directory name: runs of characters
    outside [A-Za-z0-9_.-] become '_', leading dots are dropped (no '.', '..'
    or hidden directories), at most `limit` characters (a longer name ends
    in a hash of the whole, so two long names stay apart); never empty."""
    s = SAFE_NAME.sub("_", name).lstrip(".")
    if len(s) > limit:
        s = f"{s[:limit - 9]}-{store.name_hash(name)}"
    return s or "scenario"


def changes_suffix(args, limit=store.CHANGES_LIMIT) -> str:
    """What --scale and --set changed, as the tail of a run directory's name
    (`_scale=0.1_billing.rule=cumulative`; store.changes_suffix: cut at a
    change, never inside one, with a hash when cut)."""
    return store.changes_suffix(getattr(args, "scale", None), getattr(args, "set", None) or (),
                                limit=limit)


def run_id(now=None) -> str:
    now = now or dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_creatable(path: Path, option: str, exists_advice: str) -> None:
    """BadInput unless `path` can be created (store.check_creatable: it does
    not exist, and a file can really be made where it goes)."""
    try:
        store.check_creatable(path)
    except FileExistsError:
        raise BadInput(f"{option}{path}: already exists; {exists_advice}") from None
    except OSError as e:
        raise BadInput(f"{option}{e}") from None


def check_output_dir(directory: Path) -> None:
    """Raise BadInput unless `directory` can be created as a new run directory."""
    check_creatable(directory, "", "a run never overwrites another (choose a new --out, "
                    "or leave --out out for a fresh results/ directory)")


def cannot_write_in(directory: Path) -> str | None:
    """Why no file can be made in `directory` (a probe file is made and
    removed: permissions, a read-only file system), or None."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".simengine-probe.", dir=directory)
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    os.unlink(probe)
    return None


# --------------------------------------------------------------------------
# A directory that is not a run, but holds or points to one

REPORTABLE = ("run", "sweep")
LISTED = 5          # runs named when a folder of runs is given


def _kind(directory: Path):
    try:
        m = store.read_json(directory / "manifest.json")
    except (OSError, ValueError):
        return None
    return m.get("kind") if isinstance(m, dict) else None


def runs_inside(directory: Path) -> list:
    """The run and sweep directories in `directory` and one level further
    (results/ holds a folder per scenario, each a run per directory),
    oldest first."""
    found = []
    try:
        level = [d for d in directory.iterdir() if d.is_dir()]
    except OSError:
        return []
    for d in level:
        if _kind(d) in REPORTABLE:
            found.append(d)
        elif not (d / "manifest.json").exists():
            try:
                found += [x for x in d.iterdir() if x.is_dir() and _kind(x) in REPORTABLE]
            except OSError:
                pass

    def age(d):
        try:
            return d.stat().st_mtime, str(d)
        except OSError:
            return 0.0, str(d)
    return sorted(found, key=age)


def where_the_runs_are(directory: Path, command="report") -> str | None:
    """For a directory that is not a run: where the runs are, as a message
    with the command to run (None when there is nothing to point to). The
    output of `optimize` points to its validation run; a folder of runs
    (results/default) lists the newest."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    validation = directory / "validation"
    if _kind(directory) == "optimize" and (validation / "manifest.json").is_file():
        use = (f"{PROG} report {validation}" if command == "report" else
               f"give {validation} to {command} instead")
        return (f"{directory}: the output of `{PROG} optimize`, not a run; its run is "
                f"{validation} (the validated candidates, the scenario's own strategies and "
                f"the hindsight bound on fresh paths): {use}")
    if (directory / "manifest.json").exists():
        return None
    runs = runs_inside(directory)
    if not runs:
        return None
    shown = runs[-LISTED:][::-1]
    more = len(runs) - len(shown)
    what = (f"{directory}: not a run but a folder of {len(runs):,} "
            f"run{'s' if len(runs) > 1 else ''}")
    listed = "the newest first" + (f", {more:,} older not shown" if more else "")
    if command == "report":
        return "\n".join([f"{what}; report one of them ({listed}):"]
                         + [f"  {PROG} report {d}" for d in shown])
    return "\n".join([f"{what}; {command} two of them ({listed}):"] + [f"  {d}" for d in shown])
