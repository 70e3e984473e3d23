"""Calibration from a real base (docs/model.md section 12a): the contacts
held when a log's window opens are survivors, and their spells enter the
churn likelihood conditioned on having lasted until then (left truncation).

The log here is made with NumPy, independently of the engine: a stock
gathered by a constant inflow over the three years before the window (its
survivors written as adds at their add times), plus a year of new adds,
every customer with a gamma propensity and the engine's discrete lifetime
L = 1 + floor(Exponential(lam))."""
import math

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from simengine.calibration import calibrate, fit_churn, read_events, reconstruct_spells
from simengine.calibration.fit import churn_loglik
from simengine.calibration.spells import spell_facts

SHAPE, RATE = 0.8, 0.0025
STOCK_INFLOW, POOL, ADOPTION, DAYS = 30_000, 200_000, 0.0002, 365


def stock_and_a_year(path, seed=11):
    rng = np.random.default_rng(seed)
    theta = RATE / SHAPE
    added = -rng.integers(1, 3 * 365 + 1, size=STOCK_INFLOW)
    lam = rng.gamma(SHAPE, theta, size=STOCK_INFLOW)
    churn = added + 1 + np.floor(rng.exponential(1 / lam)).astype(np.int64)
    held = churn > 0                          # the stock is its survivors
    added, churn = added[held], churn[held]
    first = rng.geometric(-math.expm1(-ADOPTION), size=POOL) - 1
    new = first[first < DAYS]
    new_lam = rng.gamma(SHAPE, theta, size=new.size)
    new_churn = new + 1 + np.floor(rng.exponential(1 / new_lam)).astype(np.int64)
    add_day = np.concatenate([added, new])
    churn_day = np.concatenate([churn, new_churn])
    ids = np.arange(add_day.size)
    seen = churn_day < DAYS
    day = np.concatenate([add_day, churn_day[seen]])
    who = np.concatenate([ids, ids[seen]])
    event = ["add_external_contact"] * add_day.size + ["del_follow_user"] * int(seen.sum())
    o = np.argsort(day, kind="stable")
    time = (np.datetime64("2025-01-01", "s") + day[o].astype("timedelta64[D]"))
    pcsv.write_csv(pa.table({
        "time": pa.array(time.astype("datetime64[s]"), pa.timestamp("s")),
        "external_user_id": pa.array(np.char.add("c", who[o].astype(str)).astype(object)),
        "user_id": pa.array(np.full(o.size, "m0", dtype=object)),
        "event": pa.array(np.array(event, dtype=object)[o]),
    }), path)
    return int(held.sum()), int(new.size)


@pytest.fixture(scope="module")
def base_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "log.csv"
    stock, new = stock_and_a_year(path)
    assert stock > 10_000 and new > 10_000
    return path, stock


def fitted(path, left_truncation):
    cal = calibrate(path, population=STOCK_INFLOW + POOL, check_paths=0,
                    observed_from="2025-01-01", left_truncation=left_truncation)
    e = cal.segments[0].estimates
    return e["churn_rate"], e["churn_shape"], cal


def test_the_window_sees_the_stock_with_its_ages(base_log):
    path, stock = base_log
    log = read_events(path, observed_from="2025-01-01")
    sp = reconstruct_spells(log)
    facts = spell_facts(sp)
    aged = facts.entry_age[facts.entry_age > 0]
    assert aged.size == stock          # every survivor of the stock, with its age
    assert facts.initial[facts.entry_age > 0].all()
    assert aged.max() <= 3 * 365
    assert (sp.start >= 0).all()
    # survivors of a stock are mostly old: more than half are over a year old
    assert np.median(aged) > 365


def test_left_truncation_recovers_the_truth(base_log):
    rate, shape, cal = fitted(base_log[0], True)
    assert rate.lo < RATE < rate.hi
    assert shape.lo < SHAPE < shape.hi
    assert any("left truncation" in n for n in cal.notes)


def test_treating_the_base_as_new_misses_the_truth(base_log):
    # what calibrate did before: survivors taken as new contacts
    rate, shape, _ = fitted(base_log[0], False)
    assert shape.hi < SHAPE and rate.hi < RATE
    assert shape.value < 0.6


def test_lifelines_with_entry_times_agrees(base_log):
    # an independent fit: lifelines' parametric fitter with the Lomax
    # cumulative hazard k log(1 + theta t), lifetimes from the add, entry at
    # the window (left truncation), censored at the window's end
    lifelines = pytest.importorskip("lifelines", reason="lifelines is a dev extra")
    import autograd.numpy as anp

    class LomaxFitter(lifelines.fitters.ParametricUnivariateFitter):
        _fitted_parameter_names = ["k_", "theta_"]
        _bounds = [(1e-6, None), (1e-9, None)]

        def _cumulative_hazard(self, params, times):
            k, theta = params
            return k * anp.log1p(theta * times)

    sp = reconstruct_spells(read_events(base_log[0], observed_from="2025-01-01"))
    age = sp.age.astype(np.float64)
    held_days = np.where(sp.closed, sp.end - sp.start - 0.5, sp.last_day + 1 - sp.start)
    f = LomaxFitter().fit(age + held_days, event_observed=sp.closed, entry=age,
                          initial_point=np.array([0.7, 0.002]))
    k, theta = float(f.params_["k_"]), float(f.params_["theta_"])
    rate, shape, _ = fitted(base_log[0], True)
    # the same model and data, the day's discreteness aside: within a quarter
    # of a standard error
    assert abs(shape.value - k) < 0.25 * shape.se
    assert abs(rate.value - k * theta) < 0.25 * rate.se


def test_truncated_likelihood_is_the_conditional_survival():
    # a contact aged a with no churn over T days: S(a + T) / S(a) with the
    # discrete lifetime's survival S(t) = (1 + theta t)^-k
    k, rate, a, T = 0.7, 0.002, 400.0, 200.0
    theta = rate / k
    expected = k * (math.log1p(theta * a) - math.log1p(theta * (a + T)))
    got = churn_loglik(rate, k, np.array([0.0]), np.array([T]), age=np.array([a]))
    assert got == pytest.approx(expected, rel=1e-12)


def test_without_ages_fit_churn_is_unchanged():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 3, 500)
    T = rng.integers(0, 700, 500)
    plain = fit_churn(n, T)
    zero = fit_churn(n, T, np.zeros(500, np.int64))
    assert plain[0].value == zero[0].value and plain[1].value == zero[1].value


def test_the_written_scenario_carries_the_stock(base_log, tmp_path):
    from simengine.calibration import write_calibration
    from simengine.scenario import load_scenario
    _, _, cal = fitted(base_log[0], True)
    (seg,) = cal.segments
    assert seg.initial_ages == "stock"
    assert 3 * 365 - 5 <= seg.initial_age_days <= 3 * 365
    out = tmp_path / "fitted.toml"
    write_calibration(cal, out)
    (loaded,) = load_scenario(out).segments
    assert loaded.initial_ages == "stock" and loaded.initial_age_days == seg.initial_age_days
    assert any("a stock" in n for n in cal.notes)


def test_a_simulated_aged_base_round_trips(tmp_path):
    # the engine's own log of a scenario whose starting contacts are a stock:
    # their adds are dated before the window, and calibrate recovers the
    # churn and the stock from it
    from simengine.calibration import write_event_log
    from simengine.scenario import scenario_from_dict
    scn = scenario_from_dict({
        "scenario": {"name": "aged", "horizon_years": 1, "paths": 1, "seed": 3,
                     "sampling": "mc"},
        "population": {"size": 120_000},
        "segment": [{"name": "all", "initial_contacts": 20_000, "adoption_rate": 0.0005,
                     "churn_rate": RATE, "churn_shape": SHAPE, "initial_age_days": 1095,
                     "initial_ages": "stock"}],
        "strategy": [{"name": "oracle", "renewal": "oracle"}]})
    path = write_event_log(scn, tmp_path, max_rows=2_000_000)
    import pyarrow.ipc as ipc
    with ipc.open_file(path) as r:
        t = r.read_all()
    times = t.column("time").to_numpy()
    start = np.datetime64("2025-01-01", "s")
    early = times < start
    assert early.sum() > 0.95 * 20_000          # starting contacts added before the window
    assert (start - times[early]).max() <= np.timedelta64(1095 * 86_400, "s")
    assert t.schema.metadata[b"simengine_start"] == b"2025-01-01"
    cal = calibrate(path, population=120_000, check_paths=0)
    e = cal.segments[0].estimates
    assert e["churn_shape"].lo < SHAPE < e["churn_shape"].hi
    assert e["churn_rate"].lo < RATE < e["churn_rate"].hi
    assert cal.segments[0].initial_ages == "stock"
    assert 1080 <= cal.segments[0].initial_age_days <= 1096
