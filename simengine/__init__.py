"""simengine: Monte Carlo engine for what WeCom external contacts will cost.

    scn = simengine.load_scenario("scenarios/default.toml")
    res = simengine.run(scn, paths=200, seed=1)
    res.summary, res.write("results/my-run")
"""
from .version import __version__
from ._numba_cache import configure as _configure_numba_cache  # noqa: E402

_configure_numba_cache()       # before any kernel module defines a numba function

from .scenario import ScenarioError, load_scenario  # noqa: E402
from .engine import run  # noqa: E402
from .result import Result  # noqa: E402

__all__ = ["ScenarioError", "load_scenario", "run", "Result", "__version__"]
