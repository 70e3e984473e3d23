"""Scenarios: load TOML, fill defaults, validate, apply `--set` overrides.

The file format, defaults and rules are docs/model.md section 6; `--set` keys are
section 9. Validation collects every problem before raising, so a user fixes
a file in one pass: each problem reads `<file>: <dotted key>: <expected>, got
<value>`.

Public, and all another package needs:
  loading     `load_scenario`, `load_scenario_with_tables` (also the file's
              `[optimize]`), `read_toml`, `scale_scenario`, `bundled_scenarios`
  checking    `scenario_from_dict`, `replace_run` (new paths or seed),
              `scenario_warnings`, `sampling_warnings`, `ScenarioError`
  overrides   `apply_overrides`, `split_overrides` ("k=v" -> (k, v), or
              (k, MISSING) without "=")
  writing     `to_toml`, `format_value` (a value as TOML, for messages)
  the format  `SCHEMA` (table -> key -> (check, default)), `NAME_RE`,
              `MAX_SEGMENTS`, `MAX_STRATEGIES`, `OTHER_TABLES`
  the data    the dataclasses of `model.py` (`Uncertainty`: an
              `[uncertainty]` entry, docs/model.md section 12; `Campaign`: a
              `[[campaign]]`, section 3)

Modules, each importing only those before it: `model` (the dataclasses,
pure data), `checks` (every key, its check and default; making and changing
a Scenario), `overrides` (`--set`), `files` (reading and writing TOML).
"""
from .model import (Billing, Campaign, Growth, Overflow, Scenario, ScenarioError, Segment, Staff,
                    Strategy, Uncertainty)
from .checks import (MAX_SEGMENTS, MAX_STRATEGIES, MISSING, NAME_RE, OTHER_TABLES, SCHEMA,
                     format_value, replace_run, sampling_warnings, scenario_from_dict,
                     scenario_warnings)
from .overrides import apply_overrides, split_overrides
from .files import (bundled_scenarios, load_scenario, load_scenario_with_tables, read_toml,
                    scale_scenario, to_toml)

__all__ = ["Billing", "Campaign", "Growth", "Overflow", "Scenario", "ScenarioError", "Segment", "Staff",
           "Strategy", "Uncertainty", "MAX_SEGMENTS", "MAX_STRATEGIES", "MISSING", "NAME_RE",
           "OTHER_TABLES", "SCHEMA", "apply_overrides", "bundled_scenarios", "format_value",
           "load_scenario", "load_scenario_with_tables", "read_toml", "replace_run",
           "sampling_warnings", "scale_scenario", "scenario_from_dict", "scenario_warnings",
           "split_overrides", "to_toml"]
