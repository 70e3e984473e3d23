"""Churn from cohort retention tables (docs/model.md section 12a), checked
against a published table: Fader and Hardie, "How to Project Customer
Retention" (Journal of Interactive Marketing 21(1), 2007), the "regular"
cohort of 1,000 customers, share alive at the start of years 0..12. Their
shifted-beta-geometric fit on years 1-7 has log-likelihood -1680.27; the
engine's churn model is its continuous twin (a Lomax survival)."""
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simengine.calibration import CalibrationError
from simengine.calibration.cohorts import (cohort_report, cohort_scenario_toml, fit_cohort,
                                           read_cohorts, survival, write_cohort_scenario)
from simengine.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FADER_HARDIE = ROOT / "docs" / "examples" / "fader-hardie-regular.csv"
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]


def write_csv(path, rows, header="cohort,period,alive"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def regular():
    (cohort,) = read_cohorts(FADER_HARDIE)
    return cohort


@pytest.fixture(scope="module")
def fitted(regular):
    return fit_cohort(regular, period_days=365, fit_through=7)


def test_the_example_file_is_the_published_table(regular):
    assert regular.name == "regular"
    assert regular.periods.tolist() == list(range(13))
    assert regular.alive.tolist() == REGULAR


def test_fader_hardie_regular_cohort(fitted):
    # the Lomax twin of their sBG fit on years 1..7
    assert fitted.churn_shape.value == pytest.approx(0.709, abs=0.005)
    assert fitted.churn_rate.value == pytest.approx(0.001812, rel=0.01)
    theta_year = fitted.churn_rate.value / fitted.churn_shape.value * 365
    assert theta_year == pytest.approx(0.932, abs=0.005)
    assert fitted.loglik == pytest.approx(-1680.27, abs=0.05)
    # the held-out years 8..12 are projected within half a point
    projected = fitted.survival(np.arange(8, 13))
    observed = np.array(REGULAR[8:]) / 1000
    assert np.abs(projected - observed).max() < 0.005
    # intervals are real and contain the estimate
    for e in (fitted.churn_rate, fitted.churn_shape):
        assert 0 < e.lo < e.value < e.hi


def test_fit_agrees_with_scipy_lomax_interval_censored(regular, fitted):
    alive = regular.alive[:8]
    t = regular.periods[:8] * 365.0
    low, high = [], []
    for j in range(1, 8):
        churned = int(alive[j - 1] - alive[j])
        low += [t[j - 1]] * churned
        high += [t[j]] * churned
    low += [t[-1]] * int(alive[-1])
    high += [np.inf] * int(alive[-1])
    data = stats.CensoredData.interval_censored(low, high)
    c, _, scale = stats.lomax.fit(data, floc=0)
    # lomax: S(x) = (1 + x / scale)^-c, so shape = c and rate = c / scale
    assert fitted.churn_shape.value == pytest.approx(c, rel=1e-4)
    assert fitted.churn_rate.value == pytest.approx(c / scale, rel=1e-4)


def test_without_heterogeneity_the_projection_falls_far_short(regular):
    # negative control: geometric retention cannot follow a real cohort
    geometric = fit_cohort(regular, period_days=365, fit_through=7, heterogeneity=False)
    assert math.isinf(geometric.churn_shape.value)
    year12 = float(geometric.survival([12])[0])
    assert year12 == pytest.approx(0.046, abs=0.005)
    assert 0.173 - year12 > 0.10
    text = cohort_report([geometric])
    assert "held out" in text
    assert "off by" in text and "12.7 at most" in text


def test_report_shows_estimates_intervals_and_projection(fitted):
    text = cohort_report([fitted])
    assert "cohort regular: 1,000 customers, periods of 365 days, fitted on periods 0..7" in text
    assert "log-likelihood -1,680.30" in text
    lines = text.splitlines()
    row8 = next(line for line in lines if line.split()[:1] == ["8"])
    assert "22.3%" in row8 and "22.0%" in row8 and "held out" in row8
    row17 = next(line for line in lines if line.split()[:1] == ["17"])   # 5 beyond the table
    assert row17.split()[1] == "-"
    assert not any(line.split()[:1] == ["18"] for line in lines)


def test_shares_with_sizes_read_like_counts(tmp_path, regular):
    rows = [("regular", j, a / 1000, 1000) for j, a in enumerate(REGULAR)]
    path = write_csv(tmp_path / "share.csv", rows, "cohort,period,share,n")
    (cohort,) = read_cohorts(path)
    assert cohort.alive.tolist() == REGULAR


def test_parquet_input(tmp_path, regular):
    import pyarrow as pa
    import pyarrow.parquet as pq
    t = pa.table({"cohort": ["regular"] * 13, "period": list(range(13)), "alive": REGULAR})
    pq.write_table(t, tmp_path / "c.parquet")
    (cohort,) = read_cohorts(tmp_path / "c.parquet")
    assert cohort.alive.tolist() == REGULAR


def test_recovers_known_parameters_from_a_simulated_cohort():
    # 20,000 customers with gamma propensities: the 95% intervals cover the truth
    rng = np.random.default_rng(7)
    k, rate = 0.8, 0.0025
    lam = rng.gamma(k, rate / k, size=20_000)
    life = rng.exponential(1 / lam)
    periods = np.arange(6)
    alive = np.array([(life >= 365 * j).sum() for j in periods])
    from simengine.calibration.cohorts import Cohort
    fit = fit_cohort(Cohort("x", periods, alive), period_days=365)
    assert fit.churn_shape.lo < k < fit.churn_shape.hi
    assert fit.churn_rate.lo < rate < fit.churn_rate.hi


def test_survival_is_the_lomax_and_its_limit():
    t = np.array([0.0, 100.0, 1000.0])
    assert survival(t, 0.002, 0.5) == pytest.approx((1 + 0.004 * t) ** -0.5)
    assert survival(t, 0.002, math.inf) == pytest.approx(np.exp(-0.002 * t))


@pytest.mark.parametrize("rows, header, message", [
    ([("a", 0, 100), ("a", 1, 80), ("a", 2, 90)], None, "not monotone: 80 alive in period 1, 90"),
    ([("a", 0, 100), ("a", 1, 120)], None, "120 is above cohort a's size (100 in period 0)"),
    ([("a", 1, 100), ("a", 2, 80)], None, "cohort a: no period 0"),
    ([("a", 0, 100), ("a", 1, 80), ("a", 1, 70)], None, "cohort a lists period 1 twice"),
    ([("a", 0, 100), ("a", -1, 80)], None, "period: expected 0, 1, 2"),
    ([("a", 0, 100), ("a", 1, 80.5)], None, "expected a whole number of customers, got 80.5"),
    ([("a", 0, 100), ("a", 1, "x")], None, "alive: expected a number, got 'x'"),
    ([("a", 0, 1.2, 10)], "cohort,period,share,n", "share: expected a share in [0, 1], got 1.2"),
    ([("a", 0)], "cohort,period", "expected columns cohort, period and alive"),
])
def test_bad_tables_are_named(tmp_path, rows, header, message):
    path = write_csv(tmp_path / "bad.csv", rows, header or "cohort,period,alive")
    with pytest.raises(CalibrationError) as e:
        read_cohorts(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_a_cohort_naming_no_segment(tmp_path, regular, fitted):
    with pytest.raises(CalibrationError) as e:
        cohort_scenario_toml([fitted], base=None, table_source="t.csv")
    msg = str(e.value)
    assert "cohort regular names no segment of <bundled>/default.toml" in msg
    assert "vip, repeat, new, prospect" in msg


def test_scenario_written_from_the_base(tmp_path):
    rows = [("repeat", j, a) for j, a in enumerate(REGULAR[:8])]
    (cohort,) = read_cohorts(write_csv(tmp_path / "repeat.csv", rows))
    fit = fit_cohort(cohort)
    out = write_cohort_scenario([fit], tmp_path / "fitted.toml", table_source="repeat.csv")
    text = out.read_text()
    assert "from cohort table repeat.csv (periods 0..7)" in text
    scn = load_scenario(out)
    base = load_scenario("default")
    seg = {s.name: s for s in scn.segments}
    assert seg["repeat"].churn_shape == pytest.approx(fit.churn_shape.value, rel=1e-5)
    assert seg["repeat"].churn_rate == pytest.approx(fit.churn_rate.value, rel=1e-5)
    assert seg["vip"] == {s.name: s for s in base.segments}["vip"]
    raw = tomllib.loads(text)["uncertainty"]
    assert raw["segment.repeat.churn_rate"]["dist"] == "lognormal"
    assert raw["segment.repeat.churn_shape"]["sigma"] == pytest.approx(
        fit.churn_shape.se / fit.churn_shape.value, rel=1e-3)
    with pytest.raises(CalibrationError, match="already exists"):
        write_cohort_scenario([fit], out)


def test_forcing_the_table_into_the_event_time_fit_is_wrong(fitted):
    # churns dated at period ends, as if exact: the shape comes out ~2.7,
    # not 0.71 (why cohort tables get their own, interval-censored fit)
    from simengine.calibration import fit_churn
    alive = REGULAR[:8]
    n, T = [], []
    for j in range(1, 8):
        churned = alive[j - 1] - alive[j]
        n += [1] * churned
        T += [365 * j - 1] * churned
    n += [0] * alive[7]
    T += [365 * 7] * alive[7]
    _, shape, _ = fit_churn(np.array(n), np.array(T))
    assert shape.value == pytest.approx(2.7, abs=0.1)
    assert shape.lo > fitted.churn_shape.hi


def test_the_documented_example_prints_what_its_page_shows(tmp_path, monkeypatch):
    import re
    import shlex
    import shutil
    from simengine import cli
    page = (ROOT / "docs" / "examples" / "fader-hardie.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- fader-hardie: output -->\n```\n(.*?)\n```", page, re.S).group(1)
    command, _, shown = block.partition("\n")
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    monkeypatch.chdir(tmp_path)
    import contextlib
    import io
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(shlex.split(command.removeprefix("$ "))[1:]) == 0
    assert printed.getvalue().rstrip("\n") == shown
    assert (tmp_path / "fader-hardie.toml").is_file()


@pytest.mark.parametrize("args, message", [
    (["--cohorts", str(FADER_HARDIE), "--population", "5"],
     "calibrate: --population is for an event log, not for --cohorts"),
    (["events.csv", "--fit-through", "3"], "calibrate: --fit-through is for --cohorts"),
    ([], "give an event log (EVENTS) or a cohort table (--cohorts FILE), one of the two"),
    (["--cohorts", "missing.csv"], "missing.csv: no such cohort table file"),
    # the input is checked before the output (which exists here)
    (["nowhere.csv"], "nowhere.csv: no such event log file"),
    (["--cohorts", str(FADER_HARDIE)], "cohort regular names no segment of <bundled>/default"),
])
def test_cli_refuses_before_any_work(tmp_path, monkeypatch, capsys, args, message):
    from simengine import cli
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.csv").write_text("time,external_user_id,user_id,event\n")
    (tmp_path / "exists.toml").write_text("")
    out = "exists.toml" if args == ["nowhere.csv"] else "out.toml"
    assert cli.main(["calibrate", *args, "-o", out]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.toml").exists()
