"""Starting contacts with ages (docs/model.md section 3): a starting contact
of age a is a survivor, its propensity the gamma posterior given survival to
a; under `initial_ages = "stock"` the ages follow the density of a stock
built by a constant inflow (proportional to the survival). Checked against
the closed forms of section 8 with Fader and Hardie's (2007) regular cohort
(the Lomax fit k = 0.7094, churn_rate = 0.001812 a day)."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import simengine
from simengine.kernel.arrivals import stock_age
from simengine.chunks import simulate_chunk
from simengine.packing import pack_scenario
from simengine.scenario import Billing, Growth, Overflow, Scenario, Segment, Staff, Strategy

K, RATE = 0.7094, 0.001812          # Fader-Hardie regular cohort, Lomax twin
THETA = RATE / K


def retained(a, n, k=K, theta=THETA):
    """Share of contacts aged a still active n days later (section 8)."""
    return ((1 + theta * a) / (1 + theta * (a + n))) ** k


def cohort(n, years, age=0.0, ages="equal", k=K, rate=RATE, seed=5):
    seg = Segment("base", 1.0, n, n, 0.0, rate, k, 0.0, 30.0, 0.0,
                  initial_age_days=age, initial_ages=ages)
    return Scenario(name="aged", horizon_years=years, paths=1, seed=seed, population=n,
                    segments=(seg,), growth=Growth(), billing=Billing(), overflow=Overflow(),
                    staff=Staff(), strategies=(Strategy("none", renewal="none", upgrade="none"),),
                    sampling="mc")


def year_end_contacts(scn):
    raw = simulate_chunk(pack_scenario(scn), scn.seed, np.arange(1))
    # active at the end of the last day of each year: days 364, 729, ...
    return raw.month["contacts"][0, 0, 11::12].astype(np.float64)


def share_tolerance(p, n):
    return 4 * math.sqrt(p * (1 - p) / n)


def test_new_contacts_follow_the_lomax_survival_for_twelve_years():
    n = 1_000_000
    alive = year_end_contacts(cohort(n, 12)) / n
    days = 365 * np.arange(1, 13) - 1     # a contact added on day 0 is active at the end of day d iff E >= d
    expected = retained(0.0, days)
    assert np.abs(alive - expected).max() < 0.002         # within 0.2 points
    assert alive[0] == pytest.approx(0.627, abs=0.001)


@pytest.mark.parametrize("age, one_year", [(1460.0, 0.880), (0.0, 0.627)])
def test_contacts_of_an_age_keep_their_survivors_share(age, one_year):
    n = 200_000
    (kept,) = year_end_contacts(cohort(n, 1, age=age))[:1] / n
    p = retained(age, 364)
    assert kept == pytest.approx(p, abs=share_tolerance(p, n))
    assert p == pytest.approx(one_year, abs=0.0005)
    assert kept == pytest.approx(one_year, abs=0.005)


def stock_density_integral(x, k=K, c=THETA):
    return integrate.quad(lambda a: (1 + c * a) ** -k, 0, x, epsabs=1e-12, epsrel=1e-12)[0]


def test_a_stock_keeps_what_its_ages_say():
    # a stock gathered over 3 years: year-1 retention = (I(A + n) - I(n)) / I(A)
    n, A = 200_000, 1095.0
    (kept,) = year_end_contacts(cohort(n, 1, age=A, ages="stock"))[:1] / n
    p = (stock_density_integral(A + 364) - stock_density_integral(364)) / stock_density_integral(A)
    assert kept == pytest.approx(p, abs=share_tolerance(p, n))
    # far better than new contacts, not as good as the oldest
    assert retained(0, 364) + 0.05 < kept < retained(A, 364)


@pytest.mark.parametrize("k", [0.5, 1.0, 2.5, math.inf])
def test_stock_age_is_the_inverse_cdf(k):
    # a naive twin: bisection on the numerically integrated density
    rate, A, Mc = 0.003, 900.0, 1.3
    c = Mc * rate / k if math.isfinite(k) else None

    def S(a):
        return math.exp(-Mc * rate * a) if c is None else (1 + c * a) ** -k

    total = integrate.quad(S, 0, A, epsabs=1e-13, epsrel=1e-13)[0]
    for v in np.random.default_rng(1).uniform(size=25):
        want = optimize.brentq(lambda a: integrate.quad(S, 0, a, epsabs=1e-13,
                                                        epsrel=1e-13)[0] - v * total,
                               0.0, A, xtol=1e-12)
        assert stock_age(v, A, rate, k, Mc) == pytest.approx(want, rel=1e-8, abs=1e-8)
    assert stock_age(0.5, 0.0, rate, k, Mc) == 0.0
    assert stock_age(0.25, A, 0.0, k, Mc) == pytest.approx(0.25 * A)


def test_stock_ages_are_distributed_as_the_density():
    # the engine's own draws of ages (counter-based) pass a KS test against
    # the stock's CDF
    from simengine.kernel.arrivals import initial_age
    from simengine.rng import path_key
    scn = cohort(20_000, 1, age=1095.0, ages="stock")
    sg = pack_scenario(scn).kernel.segments[0]
    pk = path_key(scn.seed, 0)
    ages = np.array([initial_age(pk, u, sg, 1.0) for u in range(20_000)])
    total = stock_density_integral(1095.0)
    cdf = np.vectorize(lambda a: stock_density_integral(a) / total)
    assert ages.min() >= 0 and ages.max() <= 1095.0
    assert stats.kstest(ages[:2000], cdf).pvalue > 0.01


def test_ages_are_common_to_threads_chunks_and_paths_split():
    scn = simengine.load_scenario("default", [
        "population.size=40000", "segment.vip.initial_contacts=500",
        "segment.repeat.initial_contacts=1500", "segment.new.initial_contacts=1000",
        "segment.prospect.initial_contacts=300", "segment.repeat.initial_age_days=1000",
        "segment.repeat.initial_ages=stock", "segment.vip.initial_age_days=365"])
    one = simengine.run(scn, paths=8, threads=1, chunk_size=8)
    two = simengine.run(scn, paths=8, threads=2, chunk_size=3)
    for name in ("paths", "periods", "monthly"):
        assert getattr(one, name).equals(getattr(two, name)), name


def test_age_zero_is_the_engine_without_ages():
    base = cohort(5_000, 2)
    aged = dataclasses.replace(base, segments=(dataclasses.replace(
        base.segments[0], initial_ages="stock"),))            # a stock of span 0
    a = simulate_chunk(pack_scenario(base), 5, np.arange(2))
    b = simulate_chunk(pack_scenario(aged), 5, np.arange(2))
    np.testing.assert_array_equal(a.path, b.path)
    older = dataclasses.replace(base, segments=(dataclasses.replace(
        base.segments[0], initial_age_days=800.0),))
    c = simulate_chunk(pack_scenario(older), 5, np.arange(2))
    assert c.path["churns"].sum() < a.path["churns"].sum()
