"""`simengine calibrate` and `simengine run --events` (docs/model.md sections 3, 11):
spell reconstruction from hand-written logs, input errors, the simulated log,
and a round trip (simulate known parameters, calibrate, cover the truth)."""
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from simengine.calibration import (ADD_FRIEND, DEL_FRIEND_CUSTOMER, MAX_EVENT_ROWS,
                                 CalibrationError, calibrate, churn_loglik,
                                 fit_readd, month_of_year, read_events, reconstruct_spells,
                                 write_event_log)
import simengine
from simengine.scenario import ScenarioError, load_scenario, scenario_from_dict

HEADER = "time,external_user_id,user_id,chat_id,event\n"


def simengine_calibrate(*argv) -> int:
    """`simengine calibrate ARGV`, in process: its exit status."""
    from simengine.cli import main
    return main(["calibrate", *map(str, argv)])


def write(tmp_path, text, name="log.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def spells_of(path):
    log = read_events(path)
    sp = reconstruct_spells(log)
    out = {}
    for c, s, e, b in zip(sp.customer, sp.start, sp.end, sp.before):
        out.setdefault(log.customers[c], []).append((int(s), int(e), bool(b)))
    return log, sp, out


# ---------------------------------------------------------------- spells

HAND = HEADER + """\
2025-01-01T09:00:00,cA,m1,,add_external_contact
2025-01-03T10:00:00,cA,m2,,add_external_contact
2025-01-05T10:00:00,cA,m1,,del_external_contact
2025-01-08T10:00:00,cA,m2,,del_follow_user
2025-01-10T10:00:00,cB,,g1,add_member
2025-01-20T10:00:00,cB,,g1,del_member
2025-01-25T10:00:00,cB,,g1,add_member
2025-01-12T10:00:00,cC,m1,,add_external_contact
2025-01-13T10:00:00,cC,,g1,add_member
2025-01-15T10:00:00,cC,m1,,del_follow_user
2025-01-30T10:00:00,cC,,g1,del_member
2025-02-01T10:00:00,cD,m1,,del_follow_user
2025-02-02T10:00:00,cE,m3,,add_external_contact
2025-02-03T10:00:00,cE,m3,,add_external_contact
2025-02-04T10:00:00,cE,m3,,del_follow_user
2025-02-05T10:00:00,cE,m3,,del_follow_user
2025-02-06T10:00:00,cE,m3,,add_external_contact
2025-03-01T23:00:00,cF,m1,,edit_external_contact
"""


def test_spells_from_hand_written_log(tmp_path):
    log, sp, got = spells_of(write(tmp_path, HAND))
    assert log.last_day == 59                  # the ignored edit on 03-01 still marks the span
    assert log.ignored == {"edit_external_contact": 1}
    # two members holding cA at once: one spell, ending when the second link goes
    assert got["cA"] == [(0, 7, False)]
    # group only, left and rejoined: two spells, the second open at the end
    assert got["cB"] == [(9, 19, False), (24, -1, False)]
    # member and group; the member link ends first: the spell lasts until the group leave
    assert got["cC"] == [(11, 29, False)]
    # first event a delete: a contact since before the log (day 0)
    assert got["cD"] == [(0, 31, True)]
    # repeated callbacks change nothing; delete then re-add
    assert got["cE"] == [(32, 34, False), (36, -1, False)]
    assert sp.duplicate_adds == 1 and sp.stray_deletes == 1
    assert "cF" not in got
    served = sp.served()
    assert served[0] == 2 and served[6] == 2 and served[7] == 1   # cA gone on day 7
    assert served[59] == 2                                        # cB and cE at the end


def test_same_time_events_follow_file_order(tmp_path):
    # member link closes and group link opens in the same second: file order decides
    text = HEADER + ("1735722000,c1,m1,,add_external_contact\n"
                     "1735808400,c1,,g1,add_member\n"
                     "1735808400,c1,m1,,del_follow_user\n"
                     "1735808400,c2,m1,,add_external_contact\n"
                     "1735808400,c2,m1,,del_follow_user\n"
                     "1735894800,c2,,g2,add_member\n")
    _, _, got = spells_of(write(tmp_path, text))
    assert got["c1"] == [(0, -1, False)]               # add first: no gap
    assert got["c2"] == [(1, 1, False), (2, -1, False)]


def test_dismiss_closes_the_group(tmp_path):
    text = HEADER + ("2025-01-01,c1,,g1,add_member\n"
                     "2025-01-02,c2,,g1,add_member\n"
                     "2025-01-02,c2,m1,,add_external_contact\n"
                     "2025-01-05,,,g1,dismiss\n"
                     "2025-01-09,c3,,g1,add_member\n")
    _, _, got = spells_of(write(tmp_path, text))
    assert got["c1"] == [(0, 4, False)]
    assert got["c2"] == [(1, -1, False)]       # still a friend of m1
    assert got["c3"] == [(8, -1, False)]       # joined after the dismissal: not touched


def test_raw_callback_aliases(tmp_path):
    raw = ("CreateTime,ExternalUserID,UserID,ChatId,ChangeType,UpdateDetail\n"
           "1735722000,cA,m1,,add_external_contact,\n"
           "1735808400,cA,,g1,update,add_member\n"
           "1735981200,cA,m1,,del_external_contact,\n"
           "1736067600,cA,,g1,update,del_member\n"
           "1736067600,cB,m1,,add_external_contact,\n"
           "1736154000,,,g1,create,\n")
    canon = HEADER + ("1735722000,cA,m1,,add_external_contact\n"
                      "1735808400,cA,,g1,add_member\n"
                      "1735981200,cA,m1,,del_external_contact\n"
                      "1736067600,cA,,g1,del_member\n"
                      "1736067600,cB,m1,,add_external_contact\n"
                      "1736154000,,,g1,create\n")
    log_r, _, got_r = spells_of(write(tmp_path, raw, "raw.csv"))
    log_c, _, got_c = spells_of(write(tmp_path, canon, "canon.csv"))
    assert got_r == got_c == {"cA": [(0, 4, False)], "cB": [(4, -1, False)]}
    assert log_r.ignored == {"create": 1}
    # Parquet with the raw names, ExternalUserID as strings, CreateTime as ints
    t = pa.table({"CreateTime": [1735722000, 1735808400], "ExternalUserID": ["x", "x"],
                  "UserID": ["m1", "m1"], "ChatId": ["", ""],
                  "ChangeType": ["add_external_contact", "del_follow_user"]})
    pq.write_table(t, tmp_path / "raw.parquet")
    _, _, got = spells_of(tmp_path / "raw.parquet")
    assert got == {"x": [(0, 1, False)]}


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("text, expect", [
    ("time,external_user_id,user_id,event\n2025-01-01,c1,m1,add_external_contact\n", None),
    ("time,external_user_id,user_id,chat_id\n2025-01-01,c1,m1,\n",
     ["missing column(s) event", "found: time, external_user_id, user_id, chat_id"]),
    ("external_user_id,user_id,chat_id,event\nc1,m1,,add_external_contact\n",
     ["missing column(s) time"]),
    (HEADER + "2025-01-01,c1,m1,,add_external_contact\n2025-02-30,c1,m1,,del_follow_user\n",
     ["row 2 (line 3)", "time", "'2025-02-30'"]),
    (HEADER + "2025-01-01,c1,m1,,add_external_contact\nyesterday,c1,m1,,del_follow_user\n",
     ["row 2 (line 3)", "'yesterday'"]),
    (HEADER + "2025-01-01,c1,m1,,add_external_contact\n2025-01-02,c1,m1,,delete_contact\n",
     ["row 2 (line 3)", "unknown event 'delete_contact'", "add_external_contact"]),
    (HEADER + "1735722000,c1,m1,,add_external_contact\n1735722000000,c1,m1,,del_follow_user\n",
     ["row 2 (line 3)", "milliseconds"]),
    (HEADER, ["no rows"]),
    ("", ["empty"]),
    (HEADER + "2025-01-01,,m1,,add_external_contact\n", ["row 1 (line 2)", "external_user_id is empty"]),
    (HEADER + "2025-01-01,c1,,,add_external_contact\n", ["row 1 (line 2)", "user_id"]),
    (HEADER + "2025-01-01,c1,m1,,add_member\n", ["row 1 (line 2)", "chat_id"]),
    (HEADER + "2025-01-01,c1,m1,,edit_external_contact\n", ["no contact events"]),
])
def test_bad_logs_name_the_problem_and_row(tmp_path, text, expect):
    p = write(tmp_path, text)
    if expect is None:          # chat_id may be absent when there are no group events
        assert read_events(p).customers.tolist() == ["c1"]
        return
    with pytest.raises(CalibrationError) as e:
        calibrate(p, population=10)
    msg = str(e.value)
    assert str(p) in msg
    for part in expect:
        assert part in msg, msg


def test_population_smaller_than_customers_seen(tmp_path):
    p = write(tmp_path, HEADER + "".join(f"2025-01-0{i + 1},c{i},m1,,add_external_contact\n"
                                         for i in range(5)))
    with pytest.raises(CalibrationError) as e:
        calibrate(p, population=3)
    msg = str(e.value)
    assert "--population 3 is smaller than the 5 customers" in msg
    assert "customer #4, 'c3', first appears at row 4 (line 5)" in msg


def test_missing_file_and_segments_errors(tmp_path):
    with pytest.raises(CalibrationError, match="no such event log file"):
        calibrate(tmp_path / "nope.csv")
    p = write(tmp_path, HAND)
    seg = write(tmp_path, "external_user_id,segment\ncA,vip\ncB,vip\n", "seg.csv")
    with pytest.raises(CalibrationError) as e:
        calibrate(p, segments=seg)
    assert "'cC' is not in the segments file" in str(e.value)
    assert "row 8 (line 9)" in str(e.value)
    seg = write(tmp_path, "external_user_id,segment\ncA,vip\ncA,new\n", "seg2.csv")
    with pytest.raises(CalibrationError, match=r"row 2 \(line 3\): customer 'cA' is in segment 'new'"):
        calibrate(p, segments=seg)
    seg = write(tmp_path, "external_user_id,group\ncA,vip\n", "seg3.csv")
    with pytest.raises(CalibrationError, match="missing column.s. segment"):
        calibrate(p, segments=seg)


def test_cli_bad_input_exit_2(tmp_path, capsys):
    p = write(tmp_path, HEADER + "2025-01-01,c1,m1,,hello\n")
    assert simengine_calibrate(p, "-o", tmp_path / "out.toml") == 2
    err = capsys.readouterr().err
    assert "unknown event 'hello'" in err and "row 1" in err
    assert not (tmp_path / "out.toml").exists()


# ---------------------------------------------------------------- likelihoods

def test_churn_likelihood_matches_numerical_integral():
    from scipy import integrate, stats
    for rate, k, n, T in [(0.004, 1.5, 0, 300), (0.004, 1.5, 3, 250), (0.2, 0.7, 5, 4),
                          (0.01, 40.0, 2, 1000), (1.5, 2.0, 4, 0)]:
        dens = stats.gamma(k, scale=rate / k).pdf
        f = lambda lam: (-math.expm1(-lam)) ** n * math.exp(-lam * T) * dens(lam)  # noqa: E731
        top = 200 * rate
        exact = sum(integrate.quad(f, lo, hi, limit=500, epsabs=0, epsrel=1e-12)[0]
                    for lo, hi in [(0, rate / 10), (rate / 10, rate), (rate, 10 * rate),
                                   (10 * rate, top)])
        got = churn_loglik(rate, k, [n], [T])
        assert got == pytest.approx(math.log(exact), abs=1e-7)
    # homogeneous limit
    assert churn_loglik(0.01, 1e7, [2], [50]) == pytest.approx(churn_loglik(0.01, math.inf, [2], [50]),
                                                                 abs=1e-4)


def test_readd_censoring_correction():
    rng = np.random.default_rng(1)
    p, mu, n = 0.3, 40.0, 40_000
    end = rng.integers(0, 400, n)
    readd = rng.random(n) < p
    d = 1 + np.floor(rng.exponential(mu, n)).astype(int)
    seen = readd & (end + d <= 400)
    pe, mue, _ = fit_readd(d[seen], (400 - end)[~seen])
    assert pe.lo <= p <= pe.hi and mue.lo <= mu <= mue.hi
    naive = seen.sum() / n
    assert naive < pe.lo                     # ignoring censoring would be biased low


def test_month_of_year():
    from simengine.packing import month_bounds
    b = month_bounds(2)
    expect = np.repeat(np.arange(24) % 12, np.diff(b))
    assert (month_of_year(np.arange(730)) == expect).all()
    assert month_of_year([0, 29, 30, 364, 365, 365 + 333]).tolist() == [0, 0, 1, 11, 0, 10]


# ---------------------------------------------------------------- simulated logs

SEASON = [1, 1, 1, 1, 1, 1.8, 1, 1, 1, 1, 2.5, 1.2]
TRUE = dict(adoption_rate=0.0012, churn_rate=0.004, churn_shape=1.5, readd_prob=0.4,
            readd_delay_days=30.0)


def truth_scenario(seed=0, paths=2, population=30_000, years=3):
    return scenario_from_dict({
        "scenario": {"name": "truth", "horizon_years": years, "paths": paths, "seed": seed,
                     "sampling": "mc"},     # as many paths as asked (no multipliers here)
        "population": {"size": population},
        "segment": [dict(name="all", initial_contacts=3000, **TRUE)],
        "growth": {"season": SEASON},       # sigma = churn_sigma = 0: multipliers are 1
        "billing": {"tiers": [[5000, 500], [2_000_000, 1]]},
        "strategy": [{"name": "never-blocks", "renewal": "fixed", "tier": 2_000_000}]})


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    scn = truth_scenario()
    run_dir = tmp_path_factory.mktemp("run")
    return scn, write_event_log(scn, run_dir)


def test_event_log_file(simulated):
    scn, path = simulated
    assert path.name == "events.arrow"
    assert [p.name for p in path.parent.iterdir()] == ["events.arrow"]   # no temp left
    with ipc.open_file(path) as r:
        t = r.read_all()
    assert t.column_names == ["time", "external_user_id", "user_id", "chat_id", "event",
                              "path", "segment"]
    assert t.schema.field("time").type == pa.timestamp("s")
    assert set(t.column("event").to_pylist()) == {ADD_FRIEND, DEL_FRIEND_CUSTOMER}
    assert set(t.column("path").to_pylist()) == {0, 1}
    assert set(t.column("segment").to_pylist()) == {"all"}
    first = t.slice(0, 1).to_pylist()[0]
    assert first["time"].isoformat() == "2025-01-01T00:00:00"
    assert first["external_user_id"] == "c0" and first["user_id"] == "m0" and first["chat_id"] == ""
    meta = t.schema.metadata
    assert meta[b"simengine_days"] == b"1095" and meta[b"scenario_sha256"] == scn.sha256.encode()
    # day-0 adds are the initial contacts, every churn follows an add
    p0 = t.filter(pa.compute.equal(t.column("path"), 0))
    days = (p0.column("time").to_numpy() - np.datetime64("2025-01-01")).astype("timedelta64[D]").astype(int)
    ev = np.array(p0.column("event").to_pylist())
    assert ((days == 0) & (ev == ADD_FRIEND)).sum() >= 3000
    assert (days.max() <= 1094) and (np.diff(days) >= 0).all()


def test_event_log_row_limit(tmp_path):
    scn = truth_scenario(paths=3, population=20_000, years=1)
    with pytest.raises(ScenarioError, match="more than the limit of 1,000"):
        write_event_log(scn, tmp_path, max_rows=1_000)          # refused before running
    small = scenario_from_dict(scn.resolved | {"segment": [dict(name="all", initial_contacts=100,
                                                                adoption_rate=0.0, churn_rate=0.01)],
                                               "growth": {}})
    with pytest.raises(ScenarioError, match="at least 300 rows"):
        write_event_log(small, tmp_path, max_rows=250)           # 3 paths x 100 initial contacts
    with pytest.raises(ScenarioError, match="limit of 350"):
        write_event_log(small, tmp_path, max_rows=350)           # 300 initial adds + their churns
    assert write_event_log(small, tmp_path, max_rows=1_000).name == "events.arrow"
    (tmp_path / "events.arrow").unlink()
    assert list(tmp_path.iterdir()) == []
    assert MAX_EVENT_ROWS == 1_000_000


def test_round_trip_recovers_known_parameters(simulated):
    scn, path = simulated
    cal = calibrate(path, population=scn.population, check_paths=0)
    assert cal.log.path == 0 and cal.log.paths == 2
    (seg,) = cal.segments
    est = seg.estimates
    ms = float(np.mean(SEASON))
    truth = dict(TRUE, adoption_rate=TRUE["adoption_rate"] * ms)   # season normalised to mean 1
    for k, v in truth.items():
        e = est[k]
        assert e.lo <= v <= e.hi, (k, v, e)
        assert abs(e.value - v) <= 3 * e.se, (k, v, e)
        assert e.se > 0 and e.lo < e.value < e.hi
    for s, v in zip(cal.season, SEASON):
        assert abs(s.value - v / ms) <= 3 * s.se, (s, v / ms)
    assert np.mean([s.value for s in cal.season]) == pytest.approx(1.0)
    assert 3000 <= seg.initial <= 3100                 # plus the pool's day-0 adds
    # the served history is the engine's own month-end contact count
    from simengine.engine import run
    r = run(scn, paths=1)
    contacts = r.monthly.column("contacts").to_numpy()
    from simengine.packing import month_bounds
    ends = month_bounds(3)[1:] - 1
    assert (cal.served[ends] == contacts).all()
    # without --population the pool size is estimated from the adds' saturation
    free = calibrate(path, check_paths=0)
    pe = free.population_estimate
    assert pe.lo <= scn.population <= pe.hi


def test_per_segment_fit_and_scenario_file(tmp_path):
    scn = scenario_from_dict({
        "scenario": {"name": "two", "horizon_years": 2, "paths": 1, "seed": 3, "sampling": "mc"},
        "population": {"size": 40_000},
        "segment": [dict(name="vip", share=0.25, initial_contacts=2000, adoption_rate=0.002,
                         churn_rate=0.002, churn_shape=2.0, readd_prob=0.6, readd_delay_days=20.0),
                    dict(name="new", share=0.75, initial_contacts=1000, adoption_rate=0.0008,
                         churn_rate=0.006, churn_shape=1.0, readd_prob=0.2, readd_delay_days=45.0)],
        "billing": {"tiers": [[5000, 500], [2_000_000, 1]]},
        "strategy": [{"name": "big", "renewal": "fixed", "tier": 2_000_000}]})
    events = write_event_log(scn, tmp_path)
    seg = tmp_path / "segments.csv"
    seg.write_text("external_user_id,segment\n" + "".join(
        f"c{u},{'vip' if u < 10_000 else 'new'}\n" for u in range(40_000)))
    out = tmp_path / "fitted.toml"
    assert simengine_calibrate(events, "--segments", seg, "-o", out, "--check-paths", 20) == 0
    fitted = load_scenario(out)
    assert [s.name for s in fitted.segments] == ["vip", "new"]
    assert [s.size for s in fitted.segments] == [10_000, 30_000]
    fit = json.loads((tmp_path / "fitted-fit.json").read_text())
    for sf, truth in zip(fit["segments"], scn.segments):
        for k in ("adoption_rate", "churn_rate", "churn_shape", "readd_prob", "readd_delay_days"):
            e = sf["estimates"][k]
            assert abs(e["value"] - getattr(truth, k)) <= 3.5 * e["se"], (sf["name"], k, e)
    text = out.read_text()
    assert "# SE" in text and "peak" in text
    assert (tmp_path / "fitted-check.png").stat().st_size > 10_000
    assert fit["check"]["months"] == 24


def test_cli_writes_a_valid_scenario_and_report(simulated, tmp_path, capsys):
    scn, path = simulated
    out = tmp_path / "cal.toml"
    assert simengine_calibrate(path, "--population", 30_000, "-o", out, "--check-paths", 10) == 0
    printed = capsys.readouterr().out
    assert "95% interval" in printed and "churn_shape" in printed and "Check:" in printed
    fitted = load_scenario(out)
    assert fitted.population == 30_000 and fitted.horizon_years == 3
    assert fitted.segments[0].initial_contacts >= 3000
    assert len(fitted.growth.season) == 12
    text = out.read_text()
    assert "# SE" in text and "peak" in text
    assert (tmp_path / "cal-check.png").exists()


# ---------------------------------------------------------------- files written

def test_the_check_plot_writes_counts_with_thousands_separators(simulated):
    from simengine.calibration.check import check_figure
    scn, path = simulated
    cal = calibrate(path, population=scn.population, check_paths=4)
    fig = check_figure(cal)
    fig.canvas.draw()
    ticks = [(t.get_position()[1], t.get_text()) for t in fig.axes[0].get_yticklabels()]
    big = [(v, text) for v, text in ticks if v >= 1000]
    assert big and all(text == f"{v:,.0f}" for v, text in big), ticks


def test_written_scenario_loads_back_to_the_fitted_values(simulated, tmp_path):
    from simengine.calibration import write_calibration
    scn, path = simulated
    cal = calibrate(path, population=30_000, check_paths=0)
    out = tmp_path / "fitted.toml"
    written = write_calibration(cal, out)
    assert written == [out, tmp_path / "fitted-fit.json"]       # no check ran: no plot
    loaded = load_scenario(out)
    fitted = scenario_from_dict(cal.scenario_dict("fitted"))
    assert loaded.resolved == fitted.resolved and loaded.sha256 == fitted.sha256
    seg = loaded.segments[0]
    est = cal.segments[0].estimates
    for k in ("adoption_rate", "churn_rate", "churn_shape", "readd_prob", "readd_delay_days"):
        assert getattr(seg, k) == pytest.approx(est[k].value, rel=1e-5), k
    # the explanatory comments survive: log facts, SEs, what is not identifiable
    text = out.read_text()
    assert text.startswith("# Calibrated by `simengine calibrate` from ")
    assert "churn_rate = " in text and "  # SE " in text
    assert "sigma = 0.0  # not identifiable from one history" in text
    fit = json.loads((tmp_path / "fitted-fit.json").read_text())
    assert fit["kind"] == "calibration" and "engine_version" in fit
    assert fit["segments"][0]["estimates"]["churn_rate"]["value"] == est["churn_rate"].value


def test_written_scenario_carries_its_standard_errors_as_uncertainty(simulated, tmp_path):
    """docs/model.md section 12: a rate or delay theta with standard error se varies as a
    lognormal of sigma = se / theta, a probability p as a logitnormal of
    sigma = se / (p (1 - p)); a parameter to leave the table out."""
    from simengine.calibration import write_calibration
    scn, path = simulated
    cal = calibrate(path, population=30_000, check_paths=0)
    out = tmp_path / "fitted.toml"
    write_calibration(cal, out)
    loaded = load_scenario(out)
    seg = loaded.segments[0]
    est = cal.segments[0].estimates
    got = {u.key: u for u in loaded.uncertainty}
    assert "[uncertainty]" in out.read_text()
    for k in ("adoption_rate", "churn_rate", "readd_delay_days"):
        u = got[f"segment.all.{k}"]
        assert u.dist == "lognormal"
        assert u.sigma == pytest.approx(est[k].se / getattr(seg, k), rel=1e-3), k
    u = got["segment.all.readd_prob"]
    p = seg.readd_prob
    assert u.dist == "logitnormal"
    assert u.sigma == pytest.approx(est["readd_prob"].se / (p * (1 - p)), rel=1e-3)
    assert all(0 < u.sigma < 0.5 for u in loaded.uncertainty)   # 30,000 customers pin them
    # the run draws them: the values vary by path around the fitted ones
    res = simengine.run(loaded, paths=16)
    v = res.paths["segment.all.churn_rate"].to_numpy()
    assert np.unique(v).size == 16 and np.median(v) == pytest.approx(seg.churn_rate, rel=0.2)
    # left out on request
    bare = tmp_path / "bare.toml"
    write_calibration(cal, bare, uncertainty=False)
    assert load_scenario(bare).uncertainty == () and "[uncertainty]" not in bare.read_text()
    assert load_scenario(bare).segments == loaded.segments


def test_output_is_never_overwritten_without_force(simulated, tmp_path, capsys):
    from simengine.calibration import write_calibration
    scn, path = simulated
    out = tmp_path / "cal.toml"
    out.write_text("keep me\n")
    # the input is checked first (a missing log is the first thing to fix)
    args = ["--population", 30_000, "-o", out, "--check-paths", 0]
    assert simengine_calibrate(tmp_path / "missing.csv", *args) == 2
    assert "missing.csv: no such event log file" in capsys.readouterr().err
    # then the output, before any fitting
    assert simengine_calibrate(path, *args) == 2
    err = capsys.readouterr().err
    assert f"{out} already exists" in err and "--force" in err and "another -o name" in err
    assert out.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.toml"]
    # a companion file left from an earlier calibration is protected too
    out.unlink()
    (tmp_path / "cal-fit.json").write_text("{}")
    assert simengine_calibrate(path, *args) == 2
    assert "cal-fit.json already exists" in capsys.readouterr().err
    assert not out.exists()
    # --force replaces them
    assert simengine_calibrate(path, *args, "--force") == 0
    assert load_scenario(out).population == 30_000
    assert json.loads((tmp_path / "cal-fit.json").read_text())["kind"] == "calibration"
    # the API refuses the same way
    cal = calibrate(path, population=30_000, check_paths=0)
    with pytest.raises(CalibrationError, match="already exist"):
        write_calibration(cal, out)
    assert len(write_calibration(cal, out, force=True)) == 2


def test_files_get_the_users_umask(simulated, tmp_path):
    import os
    scn, path = simulated
    old = os.umask(0o027)
    try:
        assert simengine_calibrate(path, "--population", 30_000, "-o", tmp_path / "cal.toml",
                                   "--check-paths", 5) == 0
        log = write_event_log(truth_scenario(paths=1, years=1), tmp_path / "run")
    finally:
        os.umask(old)
    for p in (tmp_path / "cal.toml", tmp_path / "cal-check.png", tmp_path / "cal-fit.json", log):
        assert (p.stat().st_mode & 0o777) == 0o640, p


NO_PANDAS = """
import runpy, sys


class NoPandas:                     # as if pandas were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoPandas())
from simengine.calibration import calibrate
cal = calibrate(sys.argv[1], population=100, check_paths=0)
assert cal.segments[0].seen == 5, cal.segments[0]
cal = calibrate(sys.argv[2], population=30_000, check_paths=0)
sys.argv = ["simengine", "calibrate", sys.argv[2], "--population", "30000", "-o", sys.argv[3],
            "--check-paths", "3"]
try:
    runpy.run_module("simengine", run_name="__main__")
except SystemExit as e:
    assert e.code in (0, None), e.code
assert "pandas" not in sys.modules
"""


def test_calibrate_runs_without_pandas(simulated, tmp_path):
    """pandas is only a dev dependency: calibration must not import it."""
    import subprocess
    import sys
    from pathlib import Path
    scn, path = simulated
    hand = write(tmp_path, HAND)
    out = tmp_path / "plain.toml"
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-c", NO_PANDAS, str(hand), str(path), str(out)],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert load_scenario(out).population == 30_000
    assert (tmp_path / "plain-check.png").exists()


def test_unwritable_output_is_refused_before_fitting(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = tmp_path / "log.csv"      # a log that would fail to parse: it is never read
    log.write_text("not,a,log\n")
    assert simengine_calibrate(log, "-o", blocker / "cal.toml", "--check-paths", 0) == 2
    err = capsys.readouterr().err
    assert "cal.toml: cannot be created" in err and "not a directory" in err
    assert "missing column" not in err                     # the log was never parsed
