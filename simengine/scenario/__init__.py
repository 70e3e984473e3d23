"""Scenarios: load TOML, fill defaults, validate, apply `--set` overrides.

The file format, defaults and rules are SPEC section 6; `--set` keys are
section 9. Validation collects every problem before raising, so a user fixes
a file in one pass: each problem reads `<file>: <dotted key>: <expected>, got
<value>`.

Public: `load_scenario`, `scenario_from_dict`, `apply_overrides`, `to_toml`,
`bundled_scenarios`, `ScenarioError` and the dataclasses of `model.py`
(`Uncertainty`: an `[uncertainty]` entry, SPEC section 12).
Modules: `model` (the dataclasses), `checks` (every key, its check and
default), `overrides` (`--set`), `files` (reading and writing TOML).
"""
from .checks import (MAX_SEGMENTS, MAX_STRATEGIES, NAME_RE, scenario_from_dict,
                     scenario_warnings)
from .files import bundled_scenarios, load_scenario, read_toml, scale_scenario, to_toml
from .model import (Billing, Growth, Overflow, Scenario, ScenarioError, Segment, Staff,
                    Strategy, Uncertainty)
from .overrides import apply_overrides

__all__ = ["Billing", "Growth", "Overflow", "Scenario", "ScenarioError", "Segment", "Staff",
           "Strategy", "Uncertainty", "MAX_SEGMENTS", "MAX_STRATEGIES", "NAME_RE",
           "apply_overrides", "bundled_scenarios", "load_scenario", "read_toml", "scale_scenario",
           "scenario_from_dict", "scenario_warnings", "to_toml"]
