"""The `simengine` command line (docs/model.md section 9): the only argument parser and
the only mapping of outcomes to exit statuses, for every command (run,
validate, report, warmup, sweep, calibrate; `simengine COMMAND --help`).

Exit status: 0 success, 2 bad input (scenario, --set, options, an output
that exists or cannot be created, a directory that is not a run; every
problem is printed, before any work), 1 any other failure (one line; the
traceback with SIMENGINE_DEBUG=1), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM). A command interrupted after its output was complete on disk
reports success: the status says what is on disk. `report` prints the
table first: when the run directory cannot take the plots (read-only) it
says so on stderr and exits 0 (the table, its output, is complete); with
--html, which asked for the page, 2. A directory that is not a run but
holds runs (results/default) or points to one (an optimize output's
validation/) is exit 2 naming them.

Each command is a few lines here calling the module that does the work
(engine and result, report, sweeps, calibration).
"""
from __future__ import annotations

import os
import signal
import sys
import traceback

from ..scenario import ScenarioError
from .commands import default_log_strategy, timing_words  # noqa: F401
from .common import (EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK,  # noqa: F401
                     EXIT_TERMINATED, PROG, BadInput, Terminated, changes_suffix, debugging, err,
                     outputs, safe_name)
from .parser import build_parser


# --------------------------------------------------------------------------
# main: the one mapping of outcomes to exit statuses

def _on_sigterm(signum, frame):
    raise Terminated()


def _interrupted(e) -> int:
    """The status after Ctrl-C or SIGTERM: success when the command's output
    was complete on disk before the signal."""
    what = "terminated" if isinstance(e, Terminated) else "interrupted"
    written = outputs.written()
    if outputs.all_written():
        err(f"\n{what} after the output was complete"
            + (f" ({', '.join(written)} written)" if written else ""))
        return EXIT_OK
    if written:
        missing = [w for p, w in outputs.targets if not p.exists()]
        msg = f"{', '.join(written)} was written completely, but not {', '.join(missing)}"
    elif outputs.hint and not outputs.targets:
        msg = outputs.hint
    else:
        msg = "nothing written"
    if outputs.hint and msg != outputs.hint:
        msg += f"; {outputs.hint}"
    err(f"\n{what}: {msg}")
    return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED


def _failed(e) -> int:
    if isinstance(e, ScenarioError):        # bad input found deeper down (sweep, calibrate)
        raise BadInput(e.problems) from None
    if debugging():
        traceback.print_exc()
    msg = str(e).splitlines()[0] if str(e) else ""
    err(f"{PROG}: failed: {type(e).__name__}" + (f": {msg}" if msg else "")
        + (f"; {outputs.hint}" if outputs.hint else "")
        + ("" if debugging() else " (set SIMENGINE_DEBUG=1 for the traceback)"))
    return EXIT_FAILURE


def _bad_input(e) -> int:
    for line in e.problems:
        err(f"error: {line}")
    if len(e.problems) > 1:
        err(f"{len(e.problems)} problems found")
    return EXIT_BAD_INPUT


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:                 # --help, --version, usage errors (2)
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    args.argv = argv
    outputs.reset()                        # one command per call: forget the last one's

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:                      # not the main thread
        pass
    try:
        try:
            return args.handler(args)
        except (BadInput, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as e:              # noqa: BLE001 - the one-line failure report
            return _failed(e)
    except BadInput as e:
        return _bad_input(e)
    except KeyboardInterrupt as e:
        return _interrupted(e)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
