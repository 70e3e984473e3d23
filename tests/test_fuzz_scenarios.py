"""Bad input, all of it (docs/model.md section 6): valid scenario and sweep files,
mutated at random (a value of another type or out of range, a key removed,
an unknown key added, the TOML text broken, a --set of any key and value),
load either cleanly or raise ScenarioError whose every line names the file
and one line names the key that was touched; never another exception."""
from __future__ import annotations

import math
import os
import tomllib

import pytest
import tomlkit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simengine.scenario import Scenario, ScenarioError, load_scenario
from simengine.sweeps import Sweep, load_sweep

from test_cli import TINY

CAMPAIGNS = """
[[campaign]]
name = "d11"
day_of_year = 310
duration_days = 3
lift = 6.0
segments = ["rest"]

[[campaign]]
name = "live"
per_year = 6
duration_days = 2
lift = 4.0
lift_sigma = 0.5
"""
BASE = tomllib.loads(TINY + CAMPAIGNS + """
[uncertainty]
"segment.vip.churn_rate" = { dist = "lognormal", sigma = 0.2 }
"segment.rest.readd_prob" = { dist = "logitnormal", sigma = 0.3 }
"segment.vip.adoption_rate" = { dist = "uniform", low = 0.003, high = 0.005 }
"campaign.live.lift" = { dist = "lognormal", sigma = 0.3 }
"campaign.live.per_year" = { dist = "uniform", low = 2, high = 10 }
""")
BASE["scenario"].update(sampling="sobol", replicates=4)
# the frictions (docs/model.md sections 4, 5), so that they are mutated too
BASE["billing"]["lead_days"] = 7
BASE["strategy"][0].update(upgrade_at=0.9, review_days=7)
SWEEP = {"sweep": {"name": "fuzz", "base": "tiny.toml", "description": "fuzzed",
                   "strategies": ["fit", "oracle"],
                   "set": {"scenario.paths": 4},
                   "grid": {"billing.rule": ["concurrent", "cumulative"],
                            "segment.vip.churn_rate": [0.001, 0.002]},
                   "zip": [{"growth.sigma": [0.1, 0.2], "growth.churn_sigma": [0.0, 0.1]}]}}
# SIMENGINE_FUZZ_EXAMPLES=5000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("SIMENGINE_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

values = st.one_of(
    st.integers(min_value=-10**20, max_value=10**20),
    st.sampled_from([0, -1, 1, 2**63, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.5, 1.5, 1e300]),
    st.text(max_size=12),
    st.sampled_from(["", "inf", "nan", "vip", "fit", "concurrent", "a b", "x=y"]),
    st.booleans(),
    st.lists(st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=3)),
             max_size=13),
    st.dictionaries(st.text(min_size=1, max_size=6), st.integers(-5, 10**6), max_size=3),
)


def key_paths(data, prefix=()):
    """Every (path, label) in a raw TOML dict: path indexes the dict; label
    is the dotted key a message would name (entries by their name)."""
    out = []
    for k, v in data.items():
        here = prefix + (k,)
        out.append(here)
        if isinstance(v, dict):
            out += key_paths(v, here)
        elif isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            for i, e in enumerate(v):
                out += key_paths(e, here + (i,))
    return out


def _get(data, path):
    for p in path:
        data = data[p]
    return data


def _named(data, path) -> list[str]:
    """The words a message about `path` may use to name it: its last key,
    and for an entry of an array of tables its name."""
    words = [str(p) for p in path if not isinstance(p, int)]
    for depth, p in enumerate(path):
        if isinstance(p, int):
            entry = _get(data, path[:depth + 1])
            if isinstance(entry, dict) and "name" in entry:
                words.append(str(entry["name"]))
    return words


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def mutate(data, draw):
    """(mutated copy, words one of which a message must contain, or None).
    A value of another type, or an unknown key, must be named by the error.
    A value of the same type but out of range, or a key removed, may instead
    break a rule that involves other keys (a fixed tier no longer among the
    tiers): then the error names those, and only its form is checked."""
    import copy
    original = data
    data = copy.deepcopy(data)
    paths = key_paths(data)
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
    path = draw(st.sampled_from(paths))
    parent, leaf = _get(data, path[:-1]), path[-1]
    if kind == "replace":
        old, parent[leaf] = parent[leaf], draw(values)
        same_kind = _kind(old) == _kind(parent[leaf])
        return data, None if same_kind else _named(original, path)
    if kind == "delete":
        del parent[leaf]
        return data, None
    holder = _get(data, path) if isinstance(_get(data, path), dict) else parent
    name = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8))
    while name in holder:
        name += "_"
    holder[name] = draw(values)
    return data, [name]


def _dump(data) -> str:
    return tomlkit.dumps(data)


def check_problems(err: ScenarioError, sources, words):
    """Every line: `<file>: <key or where>: <what is expected>` (the file one
    of `sources`); one names one of `words` when given."""
    assert err.problems, err
    sources = [sources] if isinstance(sources, str) else sources
    for line in err.problems:
        assert isinstance(line, str) and line.strip(), err.problems
        source = next((s for s in sources if line.startswith(s + ": ")), None)
        assert source is not None, (sources, err.problems)
        where, sep, what = line[len(source) + 2:].partition(": ")
        assert sep and where.strip() and what.strip(), line
        assert "Traceback" not in line
    if words is not None:
        assert any(w in line for line in err.problems for w in words), (words, err.problems)


def _load_or_error(call, source, words):
    try:
        return call()
    except ScenarioError as e:
        check_problems(e, source, words)
        return None


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "campaigns.toml").write_text(TINY + CAMPAIGNS)
    return tmp_path


@FUZZ
@given(st.data())
def test_mutated_scenarios_give_a_clear_error_naming_the_key(folder, data):
    mutated, words = mutate(BASE, data.draw)
    path = folder / "mutated.toml"
    try:
        text = _dump(mutated)
    except Exception:                  # noqa: BLE001 - a value TOML cannot hold
        return
    path.write_text(text, encoding="utf-8")
    scn = _load_or_error(lambda: load_scenario(path), str(path), words)
    assert scn is None or isinstance(scn, Scenario)


@FUZZ
@given(st.data())
def test_broken_toml_text_is_a_clear_error(folder, data):
    text = TINY
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()) and i < len(text):
            text = text[:i] + text[i + 1:]
        else:
            text = text[:i] + data.draw(st.sampled_from(list("[]{}=\"'#.,\n 0x_-"))) + text[i:]
    path = folder / "broken.toml"
    path.write_text(text, encoding="utf-8")
    scn = _load_or_error(lambda: load_scenario(path), str(path), None)
    assert scn is None or isinstance(scn, Scenario)


SET_KEYS = ["scenario.paths", "scenario.seed", "scenario.horizon_years", "population.size",
            "segment.vip.churn_rate", "segment.rest.share", "segment.vip.initial_contacts",
            "segment.nosuch.churn_rate", "growth.season", "billing.rule", "billing.tiers",
            "billing.certified", "strategy.fit.headroom", "strategy.fit.reserve.vip",
            "strategy.vip-first.tier", "strategy.nosuch.tier", "nosuch.key", "billing",
            "overflow.account_cost", "staff.members", "billing.lead_days",
            "strategy.fit.upgrade_at", "strategy.fit.review_days", "campaign.live.lift",
            "campaign.live.per_year", "campaign.live.day_of_year", "campaign.d11.day_of_year",
            "campaign.d11.segments", "campaign.d11.lift_sigma", "campaign.nosuch.lift",
            "campaign.live.nosuch"]


@FUZZ
@given(key=st.one_of(st.sampled_from(SET_KEYS),
                    st.text(max_size=20).filter(lambda k: "=" not in k)),
       value=st.one_of(st.text(max_size=12),
                       st.sampled_from(["-1", "0", "1e400", "nan", "inf", "[1,2]", "{a=1}",
                                        "true", "\"x\"", "99999999999999999999999"])))
@example(key="population.size", value="20000")
@example(key="segment.rest.share", value="0")         # shares no longer sum to 1
@example(key="campaign.d11.per_year", value="3")      # both day_of_year and per_year
@example(key="campaign.live.lift", value="0")
def test_any_set_gives_a_clear_error_naming_the_key(folder, key, value):
    path = folder / "campaigns.toml"
    words = [key.strip()] if key.strip() else None
    scn = _load_or_error(lambda: load_scenario(path, [f"{key}={value}"]), str(path), words)
    assert scn is None or isinstance(scn, Scenario)


@FUZZ
@given(st.data())
def test_mutated_sweeps_give_a_clear_error_naming_the_key(folder, data):
    mutated, words = mutate(SWEEP, data.draw)
    path = folder / "sweep.toml"
    try:
        text = _dump(mutated)
    except Exception:                  # noqa: BLE001 - a value TOML cannot hold
        return
    path.write_text(text, encoding="utf-8")
    sweep = _load_or_error(lambda: load_sweep(path), sweep_sources(folder, path, mutated), words)
    assert sweep is None or isinstance(sweep, Sweep)


def sweep_sources(folder, path, data):
    """A sweep's problems name the sweep file, or the base scenario file for
    the base's own keys (its inline [sweep.scenario] is the sweep file's)."""
    return [str(path), str(folder / "tiny.toml"), f"{path} [sweep.scenario]"]


@FUZZ
@given(st.data())
def test_broken_sweep_text_is_a_clear_error(folder, data):
    text = _dump(SWEEP)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        text = text[:i] + data.draw(st.sampled_from(list("[]{}=\"'#.,\n 0x_-"))) + text[i:]
    path = folder / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    sweep = _load_or_error(lambda: load_sweep(path), sweep_sources(folder, path, None), None)
    assert sweep is None or isinstance(sweep, Sweep)


def test_the_unmutated_files_load(folder):
    assert isinstance(load_scenario(folder / "tiny.toml"), Scenario)
    assert len(load_scenario(folder / "campaigns.toml").campaigns) == 2
    (folder / "base.toml").write_text(_dump(BASE))
    assert isinstance(load_scenario(folder / "base.toml"), Scenario)
    (folder / "sweep.toml").write_text(_dump(SWEEP))
    assert len(load_sweep(folder / "sweep.toml").points) == 8


@pytest.mark.parametrize("dist", ["[]", "{ a = 1 }", "3"])
def test_an_uncertainty_dist_of_another_type_is_named(folder, dist):
    """Found by the fuzzing above: `dist = []` raised TypeError (unhashable)."""
    path = folder / "u.toml"
    path.write_text(TINY + f'\n[uncertainty]\n"segment.vip.churn_rate" = {{ dist = {dist}, '
                    'sigma = 0.2 }\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    check_problems(e.value, str(path), ["uncertainty"])
