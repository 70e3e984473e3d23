"""The scenario as the engine sees it: frozen dataclasses, one
representation, and nothing else: the resolved dict (what manifests store
and `to_toml` writes) and the sha256 are derived from the fields. Making or
changing a scenario checks values, which is `checks.py`'s (this module
imports nothing of the package, so everything may import it)."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field


class ScenarioError(ValueError):
    """A scenario that cannot run. `problems` lists every problem found,
    each naming the file, the key and what is expected."""

    def __init__(self, problems, source=None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    size: int                 # customers, by largest remainder of share * population
    initial_contacts: int
    adoption_rate: float
    churn_rate: float
    churn_shape: float        # math.inf = homogeneous
    readd_prob: float
    readd_delay_days: float
    lost_value: float
    # days the starting contacts have been contacts at t = 0: all of them
    # (`"equal"`) or a stock built by a constant inflow over that many days
    # (`"stock"`, ages drawn with density proportional to the survival)
    initial_age_days: float = 0.0
    initial_ages: str = "equal"


@dataclass(frozen=True)
class Strategy:
    name: str
    renewal: str = "fit"        # none | fixed | fit | forecast | oracle
    tier: int | None = None     # tier size for renewal = "fixed"
    upgrade: str = "next"       # none | next | fit
    headroom: float = 0.0
    admit: tuple = ()           # segment names admitted (resolved: all when unset)
    others: str = "lost"        # overflow | lost
    on_blocked: str = "lost"    # lost | retry | overflow
    retry_days: float = 14.0
    max_retries: int = 3
    reserve: tuple = ()         # (segment, contacts) pairs: capacity kept for the others
    # when it orders an upgrade: at U >= ceil(upgrade_at * C), watching all
    # the time (review_days = 0) or looking every review_days days
    upgrade_at: float = 1.0
    review_days: int = 0

    def reserve_of(self, segment: str) -> int:
        return dict(self.reserve).get(segment, 0)


@dataclass(frozen=True)
class Growth:
    season: tuple = (1.0,) * 12
    sigma: float = 0.0
    churn_sigma: float = 0.0


@dataclass(frozen=True)
class Billing:
    rule: str = "concurrent"
    certified: bool = True
    period_days: int = 365
    upgrade_pricing: str = "prorated"
    tier_covers: str = "total"
    certification_fee: float = 0.0
    tiers: tuple = ((5_000, 500.0), (20_000, 2_000.0), (50_000, 5_000.0),
                    (200_000, 20_000.0), (500_000, 50_000.0),
                    (1_000_000, 100_000.0), (2_000_000, 200_000.0))
    lead_days: int = 0          # an upgrade ordered on day t is in force on day t + lead_days

    @property
    def free_quota(self) -> int:
        return 2000 if self.certified else 100


@dataclass(frozen=True)
class Overflow:
    account_capacity: int = 5000
    account_cost: float = 0.0


@dataclass(frozen=True)
class Staff:
    members: int | None = None
    friend_cap: int = 50_000

    @property
    def member_cap(self) -> int | None:
        return None if self.members is None else self.members * self.friend_cap


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """A `[[campaign]]` (docs/model.md section 3): a burst of first adds, on
    the same days every year (`day_of_year`) or on each path's own days
    (`per_year`: a Poisson count a year); each run lifts the first-add
    hazard of the segments it reaches by its own `lift * exp(lift_sigma Z)`."""
    name: str
    day_of_year: int | None = None     # fixed: 0-based day of every year
    per_year: float | None = None      # random: mean runs a year
    duration_days: int = 1
    lift: float                        # required (keyword-only, so it may sit here)
    lift_sigma: float = 0.0
    segments: tuple = ()               # segment names reached (resolved: all when unset;
                                       # empty: all)


@dataclass(frozen=True)
class Uncertainty:
    """One `[uncertainty]` entry (docs/model.md section 12): the key's value varies by
    path; the scenario's own value is its median (`uniform`: it lies between
    `low` and `high`)."""
    key: str                    # a dotted --set path, e.g. "segment.vip.churn_rate"
    dist: str                   # lognormal | logitnormal | uniform
    sigma: float | None = None  # lognormal, logitnormal
    low: float | None = None    # uniform
    high: float | None = None

    @property
    def params(self) -> dict:
        """The entry as written in TOML (`dist` and its parameters)."""
        return {"dist": self.dist} | {k: getattr(self, k) for k in ("sigma", "low", "high")
                                      if getattr(self, k) is not None}


@dataclass(frozen=True)
class Scenario:
    name: str
    horizon_years: int
    paths: int
    seed: int
    population: int
    segments: tuple
    growth: Growth
    billing: Billing
    overflow: Overflow
    staff: Staff
    strategies: tuple
    source: str = "<dict>"
    sampling: str = "sobol"     # "sobol" | "mc" (docs/model.md section 12)
    replicates: int = 8         # independent scramblings under "sobol"
    uncertainty: tuple = ()     # Uncertainty entries, in file order
    campaigns: tuple = ()       # Campaign entries, in file order
    # what validation changed on purpose (paths rounded up to a multiple of
    # the replicates): said by `scenario_warnings`, the run and its manifest
    notes: tuple = field(default=(), compare=False)

    @property
    def days(self) -> int:
        return 365 * self.horizon_years

    @property
    def periods(self) -> int:
        return -(-self.days // self.billing.period_days)

    @property
    def months(self) -> int:
        return 12 * self.horizon_years

    @functools.cached_property
    def resolved(self) -> dict:
        """The full scenario as plain data (JSON- and TOML-writable, loadable
        again), derived from the fields: the scenario has one representation."""
        return _resolve(self)

    @functools.cached_property
    def sha256(self) -> str:
        """Identity of the resolved scenario (written into every output)."""
        text = json.dumps(self.resolved, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def dimensions(self) -> int:
        """Path-level normals per path: growth, churn, one per uncertainty key."""
        return 2 + len(self.uncertainty)


def _resolve(scn: Scenario) -> dict:
    """The full scenario as plain data: JSON- and TOML-writable, loadable again."""
    def plain(obj, drop=()):
        d = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if f.name in drop or v is None:     # TOML has no null: unset = absent
                continue
            if f.name == "reserve":
                if v:
                    d[f.name] = dict(v)
                continue
            if isinstance(v, float) and math.isinf(v):
                v = "inf"
            elif isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            d[f.name] = v
        return d
    out = {
        "scenario": {"name": scn.name, "horizon_years": scn.horizon_years,
                     "paths": scn.paths, "seed": scn.seed, "sampling": scn.sampling,
                     "replicates": scn.replicates},
        "population": {"size": scn.population},
        "segment": [plain(s, drop=("size",)) for s in scn.segments],
        "growth": plain(scn.growth),
        "billing": plain(scn.billing),
        "overflow": plain(scn.overflow),
        "staff": plain(scn.staff),
        "strategy": [plain(s) for s in scn.strategies],
    }
    if scn.campaigns:       # absent when empty: older scenarios keep their sha256
        out["campaign"] = [plain(c) for c in scn.campaigns]
    if scn.uncertainty:     # absent when empty, like docs/model.md's default
        out["uncertainty"] = {u.key: u.params for u in scn.uncertainty}
    return out
