"""Scenario files: the bundled scenarios, reading TOML, loading with
overrides, writing a resolved scenario back as TOML."""
from __future__ import annotations

import json
import math
import re
import tomllib
from importlib import resources
from pathlib import Path

from .checks import OTHER_TABLES, scenario_from_dict
from .model import Scenario, ScenarioError
from .overrides import apply_overrides, split_overrides


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in simengine/scenarios/."""
    folder = resources.files("simengine") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_toml(path=None) -> tuple[dict, str]:
    """(raw dict, source label) for a file path or a bundled name; None = default.
    An existing file wins over a bundled scenario of the same name."""
    if path is None:
        path = "default"
    p = Path(path)
    if not p.is_file():
        name = str(path)
        if "/" not in name and "\\" not in name:
            res = resources.files("simengine") / "scenarios" / (
                name if name.endswith(".toml") else name + ".toml")
            if res.is_file():
                return _parse(res.read_text(encoding="utf-8"), f"<bundled>/{res.name}")
        raise ScenarioError([f"{path}: no such scenario file (bundled scenarios: "
                             f"{', '.join(bundled_scenarios())})"], str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([f"{path}: cannot read: {e}"], str(path)) from None
    return _parse(text, str(path))


def _parse(text, source):
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as e:   # its message carries line and column
        raise ScenarioError([f"{source}: invalid TOML: {e}"], source) from None


def scale_scenario(data: dict, factor, source="<dict>") -> dict:
    """A small (or large) version of a raw scenario on purpose: the population
    and every segment's initial contacts multiplied by `factor` (rounded
    down, at least one customer). Rates stay as they are, so which tiers bind
    changes with the size."""
    if not (isinstance(factor, (int, float)) and not isinstance(factor, bool)
            and math.isfinite(factor) and factor > 0):
        raise ScenarioError([f"{source}: --scale: expected a number > 0, got {factor!r}"], source)
    data = dict(data)
    population = data.get("population")
    if isinstance(population, dict) and isinstance(population.get("size"), int):
        data["population"] = {**population, "size": max(1, math.floor(population["size"] * factor))}
    segments = data.get("segment")
    if isinstance(segments, list):
        data["segment"] = [
            {**seg, "initial_contacts": math.floor(seg["initial_contacts"] * factor)}
            if isinstance(seg, dict) and isinstance(seg.get("initial_contacts"), int) else seg
            for seg in segments]
    return data


def load_scenario(path=None, overrides=(), scale=None) -> Scenario:
    """Read, override, validate and resolve a scenario (docs/model.md sections 6, 9).
    `path`: a file, a bundled name ("default", "default.toml") or None for the
    bundled default; `scale` (see `scale_scenario`) applies before the
    overrides. Raises ScenarioError naming every problem."""
    return load_scenario_with_tables(path, overrides, scale)[0]


def load_scenario_with_tables(path=None, overrides=(), scale=None, *,
                              allow_no_strategies=False) -> tuple[Scenario, dict]:
    """`load_scenario`, and the file's tables that belong to other commands
    (OTHER_TABLES: `[optimize]`) as read, unchecked: {name: table} for those
    the file has. They are taken out before the overrides and the checks.
    `allow_no_strategies`: a file without [[strategy]] tables loads (for
    `simengine optimize`, which searches for one)."""
    data, source = read_toml(path)
    others = {name: data.pop(name) for name in OTHER_TABLES if name in data}
    population = data.get("population")
    file_population = population.get("size") if isinstance(population, dict) else None
    if scale is not None:
        data = scale_scenario(data, scale, source)
    overrides = list(split_overrides(overrides))
    data = apply_overrides(data, overrides, source)
    scn = scenario_from_dict(data, source, overridden=[k for k, _ in overrides],
                             file_population=file_population,
                             allow_no_strategies=allow_no_strategies)
    return scn, others


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "inf" if v == math.inf else "-inf" if v == -math.inf else repr(v)
    if isinstance(v, str):   # JSON escapes are TOML escapes, bar DEL
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def to_toml(resolved: dict) -> str:
    """Write a resolved scenario dict (tables of scalars/lists and arrays of
    tables) as TOML that `load_scenario` reads back to an equal Scenario."""
    out = []
    for name, value in resolved.items():
        if isinstance(value, dict):
            out.append(f"[{_toml_key(name)}]")
            out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
            out.append("")
    for name, value in resolved.items():
        if isinstance(value, list):
            for item in value:
                out.append(f"[[{_toml_key(name)}]]")
                out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()]
                out.append("")
    return "\n".join(out)
