"""The kernel's data, by name: the scenario as records and structured
arrays (built once by `packing.pack_scenario`), the per-strategy running
state, the phantom's day record, and the event word.

Outputs are the records of `simengine/schema.py` (PATH_RECORD,
PERIOD_RECORD, MONTH_RECORD), written field by field.
"""
from collections import namedtuple

import numpy as np

from ..jit import jit

I8, F8 = np.int64, np.float64

# Scalars of a scenario: a one-element structured array (`config[0]`).
CONFIG = np.dtype([
    ("days", I8), ("period_days", I8),
    ("rule", I8),                   # billing.RULE code
    ("free_quota", I8),
    ("pricing", I8),                # billing.PRICING code
    ("certification_fee", F8),      # 0 when not certified
    ("account_capacity", I8), ("account_cost", F8),   # overflow accounts
    ("no_tier_capacity", I8),       # effective capacity without a tier
    ("usage_cap", I8),              # the member cap (UNBOUNDED without): usable capacity
    ("growth_sigma", F8), ("churn_sigma", F8),
])

TIER = np.dtype([("tier_size", I8), ("price", F8),
                 ("nominal", I8),     # capacity per tier_covers, before the member cap
                 ("effective", I8)])  # after it

# customers start..end-1; the first `initial` of them are initial contacts
SEGMENT = np.dtype([("start", I8), ("end", I8), ("initial", I8), ("adoption", F8),
                    ("churn_rate", F8), ("churn_shape", F8), ("readd_prob", F8),
                    ("readd_delay", F8), ("lost_value", F8),
                    ("initial_age", F8),        # initial_age_days
                    ("stock_ages", np.bool_)])  # initial_ages = "stock"

# A [[campaign]]: fixed (day_of_year >= 0) or random (per_year > 0 runs a
# year, day_of_year = -1); each run lifts first adds by lift * exp(lift_sigma Z).
CAMPAIGN = np.dtype([("day_of_year", I8), ("per_year", F8), ("duration", I8),
                     ("lift", F8), ("lift_sigma", F8)])

# One row per simulated strategy; phantoms (never-blocked runs) come first.
STRATEGY = np.dtype([
    ("renewal", I8), ("fixed_tier", I8), ("upgrade", I8), ("headroom", F8),
    ("others", I8), ("on_blocked", I8), ("retry_days", F8), ("max_retries", I8),
    ("max_reserve", I8),            # the largest of its reserves (0: none)
    ("unbounded", np.bool_),        # a phantom: infinite capacity, never pays
    ("oracle_source", I8),          # the phantom row whose hindsight plan an oracle follows, or -1
    ("replay_source", I8),          # the phantom row it may be replayed from, or -1
    # when it orders an upgrade (an oracle and a phantom: never by these)
    ("lead_days", I8),              # an order is in force lead_days later
    ("upgrade_at", F8),             # at U >= order_threshold(upgrade_at, C)
    ("review_days", I8),            # 0: watching at every attempt; R: at days t % R == 0
])

# The scenario as the kernel reads it. `admit[row, segment]`: admitted;
# `reserve[row, segment]`: capacity that segment's attempts may not use;
# `season_day[t]`: the season's multiplier on day t; `month_end[m]`: the
# last day of month m; `campaigns`: CAMPAIGN rows, `reach[campaign, segment]`:
# the campaign lifts that segment's first adds.
KernelScenario = namedtuple("KernelScenario", "config tiers segments strategies admit "
                                              "reserve season_day month_end campaigns reach")

# What differs by path, row i for paths[i] (engine.path_inputs): the path's
# normals (growth, churn, then the [uncertainty] keys', `sampling.py`) and its
# own CONFIG record (n, 1), SEGMENT rows (n, segments), STRATEGY rows (n,
# S) and CAMPAIGN rows (n, campaigns), which carry the path's [uncertainty]
# values (copies of the scenario's records otherwise).
PathInputs = namedtuple("PathInputs", "normals config segments strategies campaigns")

# A chunk of paths as the driver hands it to the kernel: the path numbers,
# the run's seed, the scenario, what differs by path (PathInputs, row i for
# paths[i]) and the strategy row whose adds and churns are logged (-1: none).
Chunk = namedtuple("Chunk", "paths seed scn inputs log_strategy")

# A chunk's outputs, row i for paths[i]: PATH_RECORD (n, S), PERIOD_RECORD
# (n, S, K), MONTH_RECORD (n, S, M) of schema.py; the growth and churn
# multipliers (n, 2); customer events of every strategy and events simulated
# (n, 2); the contact log (n, L) of LOG rows and the rows each path wanted (n);
# the three records' bytes, (n, S, bytes of a strategy's rows): a strategy's
# records compared and copied whole (kernel/followers.py).
ChunkOutputs = namedtuple("ChunkOutputs", "path period month mult events log log_n "
                                          "path_bytes period_bytes month_bytes")

# A strategy's running state on one path.
STATE = np.dtype([
    ("day", I8), ("period", I8), ("month", I8),
    ("active", I8),                 # WeCom contacts
    ("usage", I8),                  # billed usage U
    ("overflow", I8),               # customers on personal WeChat
    ("tier", I8), ("capacity", I8),
    ("net_adds", I8),               # adds - churns over the forecast window
    ("net_today", I8),
    ("peak_overflow", I8),          # in the period
    ("cumulative_cost", F8),
    ("staged", I8),                 # events scheduled today, not yet in the calendar
    ("events", I8),                 # customer events stepped through
    ("logging", np.bool_),          # this strategy's adds and churns are logged
    ("logged", I8),                 # contact log rows wanted so far
    ("pending_tier", I8),           # the tier on order (NO_TIER: none)
    ("pending_day", I8),            # the day it comes into force
])

# A strategy's rules for one segment, and the attempts of that segment it
# lost. Losses are counted per segment and valued once at the end (a sum of
# counts does not depend on the order attempts were met, so a strategy
# forked from the never-blocked run equals one simulated from day 0).
# `contested`: today, some of the segment's attempts may pass and some not,
# so who passes is decided by priority (priority.contested_segments); when the
# capacity cannot change today, those that pass are known at once: its
# attempts pass if `passes` and their priority key is at most `last_key`
# (priority.priority_thresholds).
SEGMENT_RULE = np.dtype([("admit", np.bool_), ("reserve", I8), ("lost", I8),
                         ("contested", np.bool_), ("passes", np.bool_),
                         ("last_key", np.uint64)])

# What a phantom run records each day, for the strategies replayed from it;
# counts are running totals.
DAY = np.dtype([("usage_start", I8), ("usage_after_churns", I8), ("active", I8),
                ("usage", I8), ("overflow", I8), ("first_adds", I8), ("readds", I8),
                ("churns", I8)])

# A replay in progress (replay.py): its phantom's running totals at the end
# of yesterday and at the period's start; an oracle's plan entry due next.
REPLAY = np.dtype([("first_before", I8), ("readds_before", I8), ("churns_before", I8),
                   ("first_at_start", I8), ("readds_at_start", I8), ("churns_at_start", I8),
                   ("step", I8)])

# An event waiting in the calendar or in today's buffer: its word and the
# customer's churn propensity (carried along so no per-customer array is read).
EVENT = np.dtype([("word", I8), ("lam", F8)])
# An event scheduled today for a later day, pushed with the day's others.
STAGED = np.dtype([("queue", I8), ("day", I8), ("word", I8), ("lam", F8)])
# The contact log: one row per WeCom add or churn of the logged strategy.
# a contact log row; `age`: days a starting contact had been held on day 0
# (its add is dated that long before the start), else 0
LOG = np.dtype([("day", I8), ("customer", I8), ("kind", I8), ("segment", I8), ("age", F8)])
LOG_ADD, LOG_CHURN = np.int64(1), np.int64(2)

UNBOUNDED = np.int64(1) << np.int64(62)     # a phantom's capacity

# Event word: customer 32 bits | episode 16 | retry 8 | segment 6 | overflow 1
# (the scenario's checks keep retries and segments within theirs).
MAX_CUSTOMERS = 1 << 32


@jit(inline="always")
def event_word(customer, episode, retry, segment, overflow):
    return customer | (episode << 32) | (retry << 48) | (segment << 56) | (overflow << 62)


@jit
def customer_of(word):
    return word & 0xFFFFFFFF


@jit
def episode_of(word):
    return (word >> 32) & 0xFFFF


@jit
def retry_of(word):
    return (word >> 48) & 0xFF


@jit
def segment_of(word):
    return (word >> 56) & 0x3F


@jit
def is_overflow(word):
    return (word >> 62) & 1 != 0
