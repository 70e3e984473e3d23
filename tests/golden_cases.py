"""The cases whose tables are pinned as golden files (tests/golden/).

Small scenarios that exercise every rule (every renewal, upgrade, admission
and blocked rule; concurrent and cumulative billing; total and excess tier
cover with a member cap; the three upgrade pricings; 200-day periods; an
uncertified enterprise), plus the bundled default at a few dozen paths.
Tables are compared without schema metadata (the engine version and the
scenario's hash are not numbers of the model).
"""
from pathlib import Path

import simengine

HERE = Path(__file__).resolve().parent / "golden"
TABLES = ("paths", "periods", "monthly", "summary")

# case -> (scenario file or bundled name, paths)
CASES = {
    "concurrent-total-prorated": (HERE / "concurrent-total-prorated.toml", 6),
    "cumulative": (HERE / "cumulative.toml", 6),
    "excess-membercap-difference": (HERE / "excess-membercap-difference.toml", 6),
    "period200-full-cumulative": (HERE / "period200-full-cumulative.toml", 6),
    "uncertified": (HERE / "uncertified.toml", 6),
    "default": (HERE / "default.toml", 24),
}


def golden_tables(name, threads=None, chunk_size=None):
    source, paths = CASES[name]
    scn = simengine.load_scenario(str(source))
    res = simengine.run(scn, paths=paths, threads=threads, chunk_size=chunk_size)
    return {t: getattr(res, t).replace_schema_metadata(None) for t in TABLES}
