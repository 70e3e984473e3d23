"""What every command shares: exit statuses, bad input, what a command
writes (so that an interrupt reports what is on disk), names and checks of
outputs."""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import sys
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

def safe_name(name: str) -> str:
    """A scenario name made safe as one directory name: runs of characters
    outside [A-Za-z0-9_.-] become '_', leading dots are dropped (no '.', '..'
    or hidden directories), at most 100 characters; never empty."""
    s = SAFE_NAME.sub("_", name).lstrip(".")[:100]
    return s or "scenario"


CHANGE_CHARS = re.compile(r"[^A-Za-z0-9_.=,-]+")


def changes_suffix(args, limit=60) -> str:
    """What --scale and --set changed, as the tail of a run directory's name
    (`_scale=0.1_billing.rule=cumulative`), so that runs with different
    changes are told apart in a listing; cut at `limit` characters (the
    manifest and every report name them in full)."""
    parts = ([f"scale={args.scale:g}"] if getattr(args, "scale", None) else []) + [
        "".join(x.split()) for x in getattr(args, "set", []) or []]
    if not parts:
        return ""
    text = CHANGE_CHARS.sub("_", "_".join(parts)).strip("_.")
    return "_" + text[:limit].rstrip("_.") if text else ""


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
