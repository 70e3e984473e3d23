"""`simengine calibrate`'s body, kept here until cli.py (the one parser and
exit-code mapping) calls `calibrate` and `write_calibration` itself."""
from __future__ import annotations

import sys

from ..scenario import ScenarioError
from .check import CHECK_PATHS
from .model import calibrate
from .writer import check_output, write_calibration


def cli_calibrate(args) -> int:
    """`simengine calibrate EVENTS [--population N] [--segments FILE] -o SCENARIO.toml
    [--path P] [--force]`: fit, write the scenario (+ SCENARIO-check.png,
    SCENARIO-fit.json), print the report. Exit 0, or 2 on bad input or an
    output that exists (message on stderr; checked before any fitting)."""
    try:
        population = getattr(args, "population", None)
        if population is not None and int(population) < 1:
            raise ScenarioError(f"--population: expected a positive integer, got {population}")
        check_paths = getattr(args, "check_paths", None)
        check_paths = CHECK_PATHS if check_paths is None else int(check_paths)
        force = bool(getattr(args, "force", False))
        check_output(args.output, force, check=check_paths > 0)
        cal = calibrate(args.events, population=population,
                        segments=getattr(args, "segments", None),
                        path=getattr(args, "path", None), check_paths=check_paths,
                        seed=getattr(args, "seed", None) or 0)
        written = write_calibration(cal, args.output, force=force)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {args.output}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 2
    print(cal.report())
    print()
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0
