"""The plain NumPy day-stepped baseline of the benchmarks
(benchmarks/numpy_baseline.py) simulates the engine's dynamics: it meets
docs/model.md section 8's binomial fact, and its mean active curve agrees with the
engine's within standard errors (never-binding and binding capacity).

Fixed seeds; tolerances are 4.5 standard errors per checkpoint."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import simengine
from simengine.scenario import scenario_from_dict

_path = Path(__file__).resolve().parent.parent / "benchmarks" / "numpy_baseline.py"
_spec = importlib.util.spec_from_file_location("simengine_numpy_baseline", _path)
nb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb)

Z = 4.5


def binomial_p(a, lam, days):
    """p_n = sum_{j=0..n} q (1-q)^j exp(-lam (n-j)), q = 1 - exp(-a), n < days."""
    q = -math.expm1(-a)
    p = np.empty(days)
    acc = 0.0
    for n in range(days):
        acc = acc * math.exp(-lam) + q * (1 - q) ** n
        p[n] = acc
    return p


def test_binomial_fact():
    N, a, lam, D, R = 200_000, 0.002, 0.003, 730, 3
    rng = np.random.default_rng(8)
    stats = {}
    runs = np.array([nb.simulate([N], [0], [a], [lam], [math.inf], [0.0], [30.0],
                                 np.ones(D), capacity=None, rng=rng, stats=stats)
                     for _ in range(R)])
    assert stats["readds"] == 0 and stats["blocked"] == 0
    p = binomial_p(a, lam, D)
    days = np.array([0, 1, 7, 30, 91, 182, 365, 547, 729])
    se = np.sqrt(N * p[days] * (1 - p[days]) / R)
    z = (runs.mean(axis=0)[days] - N * p[days]) / se
    assert np.all(np.abs(z) < Z), dict(zip(days.tolist(), z.round(2).tolist()))
    # every single path, every day: within 5 binomial sd
    zall = (runs - N * p) / np.sqrt(N * p * (1 - p))
    assert np.abs(zall).max() < 5.0


def _scenario(tier, sigma, churn_sigma, population=10_000, years=1):
    data = {
        "scenario": {"name": "baseline-vs-engine", "horizon_years": years, "paths": 10, "seed": 3},
        "population": {"size": population},
        "segment": [
            {"name": "vip", "share": 0.1, "initial_contacts": 200, "adoption_rate": 0.006,
             "churn_rate": 0.003, "churn_shape": 2.0, "readd_prob": 0.6,
             "readd_delay_days": 20},
            {"name": "repeat", "share": 0.3, "initial_contacts": 300, "adoption_rate": 0.003,
             "churn_rate": 0.004, "churn_shape": 0.8, "readd_prob": 0.4,
             "readd_delay_days": 40},
            {"name": "prospect", "share": 0.6, "adoption_rate": 0.0015, "churn_rate": 0.008,
             "readd_prob": 0.2, "readd_delay_days": 15},
        ],
        "growth": {"season": [1, 1, 1, 1, 1, 1.8, 1, 1, 1, 1, 2.5, 1.2],
                   "sigma": sigma, "churn_sigma": churn_sigma},
        "billing": {"certification_fee": 300},
        "strategy": [{"name": "fixed", "renewal": "fixed", "tier": tier, "upgrade": "none",
                      "on_blocked": "lost"}],
    }
    return scenario_from_dict(data, "<test_numpy_baseline>")


def _month_ends(scn, paths_engine, paths_numpy, seed):
    res = simengine.run(scn, paths=paths_engine, seed=seed, threads=1)
    m = res.monthly
    eng = np.asarray(m["contacts"]).reshape(paths_engine, scn.months)
    assert np.array_equal(np.asarray(m["path"]).reshape(paths_engine, scn.months)[:, 0],
                          np.arange(paths_engine))
    H = scn.horizon_years
    ends = np.array([365 * y + (365 * (k + 1)) // 12 - 1 for y in range(H) for k in range(12)])
    rng = np.random.default_rng(seed)
    base = np.array([nb.simulate_scenario(scn, rng=rng)[ends] for _ in range(paths_numpy)])
    return eng.astype(float), base.astype(float)


def _agree(eng, base):
    se = np.sqrt(eng.var(axis=0, ddof=1) / len(eng) + base.var(axis=0, ddof=1) / len(base))
    diff = base.mean(axis=0) - eng.mean(axis=0)
    z = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
    assert np.all(diff[se == 0] == 0), diff.tolist()   # e.g. both pinned at capacity
    assert np.all(np.abs(z) < Z), z.round(2).tolist()
    return z


def test_mean_curve_matches_engine_never_binding():
    scn = _scenario(tier=20_000, sigma=0.1, churn_sigma=0.1)
    assert nb.scenario_capacity(scn) is None
    eng, base = _month_ends(scn, 400, 150, seed=11)
    _agree(eng, base)
    # and the curve actually moves: growth from 500 initial contacts
    assert base.mean(axis=0)[-1] > 3 * 500


def test_mean_curve_matches_engine_binding_capacity():
    # capacity 5,000 (free 2,000, tier 5,000 covers the total) binds mid-year;
    # refused attempts are lost, in both
    scn = _scenario(tier=5_000, sigma=0.0, churn_sigma=0.0, population=20_000)
    assert nb.scenario_capacity(scn) == 5_000
    eng, base = _month_ends(scn, 200, 60, seed=12)
    _agree(eng, base)
    assert eng.max() == 5_000 and base.max() == 5_000


def test_capacity_that_binds_must_be_modelled():
    scn = _scenario(tier=5_000, sigma=0.0, churn_sigma=0.0)
    bad = scenario_from_dict({**scn.resolved, "strategy": [
        {"name": "fit", "renewal": "fit", "upgrade": "next"}]}, "<t>")
    with pytest.raises(ValueError):
        nb.scenario_capacity(bad)
