"""Overrides (`--set`, sweeps): dotted keys set in a raw scenario dict
before validation (docs/model.md section 9)."""
from __future__ import annotations

import copy
import tomllib

from .checks import (ARRAY_TABLES, MISSING, SCHEMA, UNCERTAINTY, UNCERTAINTY_PARAMS,
                     format_value)
from .model import ScenarioError


def _parse_value(text):
    try:
        return tomllib.loads("v = " + text)["v"]
    except tomllib.TOMLDecodeError:
        return text            # bare words: billing.rule=cumulative


def split_overrides(overrides):
    """Yield (dotted key, value) from "k=v" strings, (k, v) pairs or a mapping;
    a string without "=" yields (key, MISSING), for the caller to report."""
    items = overrides.items() if isinstance(overrides, dict) else overrides
    for item in items:
        if isinstance(item, str):
            key, eq, text = item.partition("=")
            if not eq:
                yield item.strip(), MISSING
            else:
                yield key.strip(), _parse_value(text.strip())
        else:
            key, value = item
            yield key, value


def apply_overrides(data: dict, overrides, source="<dict>") -> dict:
    """A copy of the raw scenario dict with dotted keys set (docs/model.md section 9):
    `table.key` for scenario, population, growth, billing, overflow, staff;
    `segment.<name>.<key>` and `strategy.<name>.<key>`. `overrides` holds
    "key=value" strings (value parsed as TOML, else taken as a string),
    (key, value) pairs or a mapping. Unknown keys and names raise ScenarioError
    (all of them at once); values are checked later by `scenario_from_dict`."""
    data = copy.deepcopy(data)
    problems = []
    for key, value in split_overrides(overrides):
        where = f"{source}: --set {key}"
        if value is MISSING:
            problems.append(f"{where}: expected KEY=VALUE, got {format_value(key)}")
            continue
        table, _, rest = key.partition(".")
        if table == UNCERTAINTY:
            problem = _set_uncertainty(data, rest, value)
            if problem:
                problems.append(f"{where}: {problem}")
            continue
        if table == "strategy" and ".reserve." in f".{rest}":
            # strategy.<name>.reserve.<segment>: one entry of the reserve table
            name, _, segment = rest.rpartition(".reserve.")
            entries = [e for e in data.get("strategy", []) if isinstance(e, dict)]
            names = [str(e.get("name")) for e in entries]
            if name not in names:
                problems.append(f"{where}: no strategy named {format_value(name)}; "
                                f"the strategy names are: {', '.join(names) or '(none)'}")
            else:
                entry = entries[names.index(name)]
                reserve = entry.get("reserve")
                entry["reserve"] = {**(reserve if isinstance(reserve, dict) else {}),
                                    segment: value}
            continue
        if table in ARRAY_TABLES:
            name, _, leaf = rest.rpartition(".")   # names may contain dots; keys don't
            entries = data.get(table)
            entries = ([e for e in entries if isinstance(e, dict)]
                       if isinstance(entries, list) else [])
            names = [str(e.get("name")) for e in entries]
            if leaf not in SCHEMA[table] or not name:
                problems.append(f"{where}: unknown key; expected {table}.<name>.<key> with "
                                f"<key> one of {', '.join(SCHEMA[table])}")
            elif name not in names:
                problems.append(f"{where}: no {table} named {format_value(name)}; "
                                f"the {table} names are: {', '.join(names) or '(none)'}")
            else:
                entries[names.index(name)][leaf] = value
        elif table in SCHEMA:
            if rest not in SCHEMA[table]:
                problems.append(f"{where}: unknown key; {table} keys: {', '.join(SCHEMA[table])}")
            else:
                tbl = data.setdefault(table, {})
                if isinstance(tbl, dict):
                    tbl[rest] = value
                else:
                    problems.append(f"{where}: [{table}] is not a table in the file")
        else:
            problems.append(f"{where}: unknown key; expected one of "
                            + ", ".join([f"{t}.<name>.<key>" if t in ARRAY_TABLES else f"{t}.<key>"
                                         for t in SCHEMA] + [f"{UNCERTAINTY}.<key>.<param>"]))
    if problems:
        raise ScenarioError(problems, source)
    return data


def _set_uncertainty(data, rest, value):
    """`uncertainty.<dotted key>.<param>` sets one parameter of an
    [uncertainty] entry (made if absent); `uncertainty.<dotted key>` with a
    table value sets the whole entry. Returns a problem, or None; the entry
    is checked later with the rest of the scenario."""
    key, _, param = rest.rpartition(".")
    table = data.setdefault(UNCERTAINTY, {})
    if not isinstance(table, dict):
        return f"[{UNCERTAINTY}] is not a table in the file"
    if isinstance(value, dict) and rest:          # a whole entry (growth.sigma is a key)
        table[rest] = value
    elif param in UNCERTAINTY_PARAMS and key:
        entry = table.get(key)
        table[key] = {**(entry if isinstance(entry, dict) else {}), param: value}
    else:
        return (f"unknown key; expected {UNCERTAINTY}.<key>.<param> with <param> one of "
                f"{', '.join(UNCERTAINTY_PARAMS)} (e.g. {UNCERTAINTY}.segment.vip.churn_rate."
                f"sigma=0.2), or {UNCERTAINTY}.<key>={{ dist = ..., ... }}")
    return None
