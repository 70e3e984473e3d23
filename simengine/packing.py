"""A scenario packed once into the kernel's records (kernel/layout.py):
`pack_scenario`, and each path's own inputs (`path_inputs`). Campaigns
are packed as CAMPAIGN rows; their runs are drawn per path by the kernel
(kernel/campaigns.py), from the path's counter-based numbers.

The path-level numbers (the normals behind the growth and churn multipliers
and the `[uncertainty]` draws, `sampling.py`) are drawn once per run
(`with_path_draws`) and travel with the packed scenario; each path gets its
own copy of the records its `[uncertainty]` values change. A path's inputs
depend only on (scenario, seed, path number): never on threads, chunks or
the executor.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .billing import COVERS, PRICING, RULE, tier_capacities
from .kernel.layout import (CAMPAIGN, CONFIG, SEGMENT, STRATEGY, TIER, UNBOUNDED, KernelScenario,
                            PathInputs)
from .sampling import Sampling, draw_values
from .strategies import B_LOST, ON_BLOCKED, OTHERS, R_NONE, RENEWAL, U_NONE, UPGRADE


def month_bounds(horizon_years):
    """First day of each month (docs/model.md section 2), plus D at the end."""
    starts = [365 * y + (365 * m) // 12 for y in range(horizon_years) for m in range(12)]
    return np.array(starts + [365 * horizon_years], dtype=np.int64)


@dataclass(frozen=True)
class UncertainField:
    """Where an [uncertainty] key's value goes: `record` ("config",
    "segments" or "strategies" of layout.PathInputs), its row and field."""
    record: str
    row: int
    field: str


@dataclass(frozen=True)
class PathDraws:
    """The path-level normals of paths 0..n-1 for one seed, drawn once per
    run (`with_path_draws`)."""
    seed: int
    normals: np.ndarray


@dataclass
class PackedScenario:
    """The scenario as the kernel reads it (records and structured arrays of
    kernel/layout.py), built once by `pack_scenario`; picklable."""
    kernel: KernelScenario
    S: int                     # strategy rows: phantoms, then the scenario's strategies
    K: int                     # billing periods
    M: int                     # months
    n_phantoms: int
    strategy_names: list
    sampling: Sampling = None
    uncertainty: tuple = ()    # scenario.Uncertainty entries
    medians: tuple = ()        # the scenario's value of each
    fields: tuple = ()         # an UncertainField per entry, or None (no effect)
    draws: PathDraws = None    # the run's normals (else drawn per chunk: same numbers)


def records(dtype, rows):
    """A structured array of `dtype` from dicts naming every field."""
    out = np.zeros(len(rows), dtype)
    for i, row in enumerate(rows):
        if set(row) != set(dtype.names):
            raise ValueError(f"record fields: expected {dtype.names}, got {tuple(row)}")
        for name, value in row.items():
            out[i][name] = value
    return out


def _pack_billing(scn):
    """The CONFIG record and the TIER array."""
    b = scn.billing
    sizes = np.array([t[0] for t in b.tiers], dtype=np.int64)
    nominal, effective, no_tier_cap = tier_capacities(sizes, b.free_quota,
                                                      COVERS[b.tier_covers], scn.staff.member_cap)
    config = records(CONFIG, [dict(
        days=scn.days, period_days=b.period_days, rule=RULE[b.rule], free_quota=b.free_quota,
        pricing=PRICING[b.upgrade_pricing],
        certification_fee=float(b.certification_fee) if b.certified else 0.0,
        account_capacity=scn.overflow.account_capacity,
        account_cost=float(scn.overflow.account_cost), no_tier_capacity=no_tier_cap,
        usage_cap=UNBOUNDED if scn.staff.member_cap is None else scn.staff.member_cap,
        growth_sigma=float(scn.growth.sigma), churn_sigma=float(scn.growth.churn_sigma))])
    tiers = records(TIER, [dict(tier_size=size, price=float(price), nominal=n, effective=e)
                           for (size, price), n, e in zip(b.tiers, nominal, effective)])
    return config, tiers


def _pack_segments(scn):
    end = np.cumsum([s.size for s in scn.segments], dtype=np.int64)
    return records(SEGMENT, [dict(
        start=e - s.size, end=e, initial=s.initial_contacts, adoption=s.adoption_rate,
        churn_rate=s.churn_rate, churn_shape=s.churn_shape, readd_prob=s.readd_prob,
        readd_delay=s.readd_delay_days, lost_value=s.lost_value,
        initial_age=float(s.initial_age_days), stock_ages=s.initial_ages == "stock")
        for s, e in zip(scn.segments, end)])


def _pack_strategies(scn):
    """STRATEGY rows and the admit matrix. Rows 0..n_phantoms-1 are phantoms;
    the scenario's strategies follow, in file order.

    A phantom (a never-blocked run) is simulated for each admission rule that
    an oracle uses or that several strategies share: strategies that never
    block are then replayed from it instead of simulated (kernel/replay.py)."""
    seg_names = [s.name for s in scn.segments]
    sizes = [t[0] for t in scn.billing.tiers]

    def admit_row(st):
        # an empty admit list means every segment (docs/model.md's default)
        return tuple(not st.admit or name in st.admit for name in seg_names)

    keys = [(admit_row(st), st.others) for st in scn.strategies]
    phantom_keys = []
    for st, key in zip(scn.strategies, keys):
        if (st.renewal == "oracle" or keys.count(key) > 1) and key not in phantom_keys:
            phantom_keys.append(key)
    rows = [dict(renewal=R_NONE, fixed_tier=-1, upgrade=U_NONE, headroom=0.0,
                 others=OTHERS[others], on_blocked=B_LOST, retry_days=0.0, max_retries=0,
                 max_reserve=0, unbounded=True, oracle_source=-1, replay_source=-1,
                 lead_days=0, upgrade_at=1.0, review_days=0)
            for _, others in phantom_keys]
    reserve = [[0] * len(seg_names) for _ in phantom_keys]
    for st, key in zip(scn.strategies, keys):
        phantom = phantom_keys.index(key) if key in phantom_keys else -1
        oracle = st.renewal == "oracle"
        # the hindsight plan chooses every tier, ordering ahead: an oracle's
        # upgrade, headroom, reserve, upgrade_at and review_days have no
        # effect (`validate` warns), nor has the lead time
        reserve.append([0 if oracle else st.reserve_of(name) for name in seg_names])
        rows.append(dict(
            renewal=RENEWAL[st.renewal],
            fixed_tier=sizes.index(st.tier) if st.renewal == "fixed" else -1,
            upgrade=U_NONE if oracle else UPGRADE[st.upgrade],
            headroom=0.0 if oracle else float(st.headroom), others=OTHERS[st.others],
            on_blocked=ON_BLOCKED[st.on_blocked], retry_days=float(st.retry_days),
            max_retries=int(st.max_retries), max_reserve=max(reserve[-1]), unbounded=False,
            oracle_source=phantom if oracle else -1, replay_source=phantom,
            lead_days=0 if oracle else int(scn.billing.lead_days),
            upgrade_at=1.0 if oracle else float(st.upgrade_at),
            review_days=0 if oracle else int(st.review_days)))
    admit = np.array([adm for adm, _ in phantom_keys] + [adm for adm, _ in keys],
                     dtype=np.bool_).reshape(len(rows), len(seg_names))
    reserve = np.array(reserve, dtype=np.int64).reshape(len(rows), len(seg_names))
    return records(STRATEGY, rows), admit, reserve, len(phantom_keys)


def _pack_campaigns(scn):
    """CAMPAIGN rows (day_of_year -1: random) and reach[campaign, segment]."""
    rows = records(CAMPAIGN, [dict(
        day_of_year=-1 if c.day_of_year is None else c.day_of_year,
        per_year=0.0 if c.per_year is None else float(c.per_year), duration=c.duration_days,
        lift=float(c.lift), lift_sigma=float(c.lift_sigma)) for c in scn.campaigns])
    # an empty segments list reaches every segment (like a strategy's admit)
    reach = np.array([[not c.segments or s.name in c.segments for s in scn.segments]
                      for c in scn.campaigns],
                     dtype=np.bool_).reshape(len(scn.campaigns), len(scn.segments))
    return rows, reach


# [uncertainty] keys -> record fields (scenario/checks.py UNCERTAIN_KEYS)
_CONFIG_FIELDS = {"growth.sigma": "growth_sigma", "growth.churn_sigma": "churn_sigma",
                  "billing.certification_fee": "certification_fee",
                  "overflow.account_cost": "account_cost"}
_SEGMENT_FIELDS = {"adoption_rate": "adoption", "churn_rate": "churn_rate",
                   "churn_shape": "churn_shape", "readd_prob": "readd_prob",
                   "readd_delay_days": "readd_delay", "lost_value": "lost_value",
                   "initial_age_days": "initial_age"}
_STRATEGY_FIELDS = {"headroom": "headroom", "retry_days": "retry_days"}
_CAMPAIGN_FIELDS = {"lift": "lift", "lift_sigma": "lift_sigma", "per_year": "per_year"}


def _uncertain_field(scn, key, n_phantoms):
    """(the scenario's value of `key`, its UncertainField or None where the
    value has no effect: the fee of an uncertified enterprise, an oracle's
    headroom)."""
    table, _, rest = key.partition(".")
    if key in _CONFIG_FIELDS:
        value = getattr(getattr(scn, table), rest)
        live = key != "billing.certification_fee" or scn.billing.certified
        return value, UncertainField("config", 0, _CONFIG_FIELDS[key]) if live else None
    name, _, leaf = rest.rpartition(".")
    if table == "segment":
        i = [s.name for s in scn.segments].index(name)
        return (getattr(scn.segments[i], leaf),
                UncertainField("segments", i, _SEGMENT_FIELDS[leaf]))
    if table == "campaign":
        i = [c.name for c in scn.campaigns].index(name)
        return (getattr(scn.campaigns[i], leaf),
                UncertainField("campaigns", i, _CAMPAIGN_FIELDS[leaf]))
    i = [s.name for s in scn.strategies].index(name)
    st = scn.strategies[i]
    live = not (st.renewal == "oracle" and leaf == "headroom")
    return getattr(st, leaf), (UncertainField("strategies", n_phantoms + i,
                                              _STRATEGY_FIELDS[leaf]) if live else None)


def pack_scenario(scn) -> PackedScenario:
    config, tiers = _pack_billing(scn)
    strategies, admit, reserve, n_phantoms = _pack_strategies(scn)
    bounds = month_bounds(scn.horizon_years)
    season = np.asarray(scn.growth.season, dtype=np.float64)
    month_of_day = np.repeat(np.arange(scn.months) % 12, np.diff(bounds))
    kernel = KernelScenario(config, tiers, _pack_segments(scn), strategies, admit, reserve,
                            season[month_of_day], bounds[1:] - 1, *_pack_campaigns(scn))
    targets = [_uncertain_field(scn, u.key, n_phantoms) for u in scn.uncertainty]
    return PackedScenario(kernel=kernel, S=len(strategies), K=scn.periods, M=scn.months,
                          n_phantoms=n_phantoms,
                          strategy_names=[s.name for s in scn.strategies],
                          sampling=Sampling.of(scn), uncertainty=tuple(scn.uncertainty),
                          medians=tuple(float(v) for v, _ in targets),
                          fields=tuple(f for _, f in targets))


def with_path_draws(packed: PackedScenario, seed: int, paths: int) -> PackedScenario:
    """`packed` carrying the normals of paths 0..paths-1 for `seed`, drawn
    once (they travel with it to Dask workers)."""
    normals = packed.sampling.normals(seed, np.arange(paths))
    return dataclasses.replace(packed, draws=PathDraws(int(seed), normals))


def path_inputs(packed: PackedScenario, seed: int, paths):
    """(layout.PathInputs, replicate, [uncertainty] values) of the given path
    numbers: their normals (the run's, else drawn now: the same numbers) and
    per-path copies of the config, segment and strategy records holding the
    path's [uncertainty] values."""
    paths = np.asarray(paths, dtype=np.int64)
    d = packed.draws
    if d is not None and d.seed == int(seed) and (paths < d.normals.shape[0]).all():
        normals = d.normals[paths]
    else:
        normals = packed.sampling.normals(seed, paths)
    values = draw_values(packed.uncertainty, packed.medians, normals)
    k, n = packed.kernel, paths.shape[0]
    own = {"config": np.repeat(k.config[None], n, axis=0),
           "segments": np.repeat(k.segments[None], n, axis=0),
           "strategies": np.repeat(k.strategies[None], n, axis=0),
           "campaigns": np.repeat(k.campaigns[None], n, axis=0)}
    for j, f in enumerate(packed.fields):
        if f is not None:
            own[f.record][f.field][:, f.row] = values[:, j]
    inputs = PathInputs(np.ascontiguousarray(normals), own["config"], own["segments"],
                        own["strategies"], own["campaigns"])
    return inputs, packed.sampling.replicate(paths), values
