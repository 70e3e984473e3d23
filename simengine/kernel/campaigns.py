"""A path's campaign runs and the daily lifts they give a segment's first
adds (docs/model.md section 3, "Campaigns, exactly" in section 5).

A fixed campaign runs once a year on its `day_of_year`; a random one draws a
Poisson(`per_year`) count for each year and a uniform start day 0..364 for
each run. Every run has its own lift, `lift * exp(lift_sigma * Z)`. The
draws are counter-based, keyed by (path, campaign index, CAMPAIGN,
occurrence), so a path's runs are the same under every strategy, under both
samplings and whatever the threads, chunks or executor. The occurrence of a
draw of campaign c in year y is `campaign_occurrence(y, j, kind)`: COUNT for
the j-th piece of the year's count, START and LIFT for run j's start day and
lift normal (a fixed campaign's run of the year is run 0).
"""
import math
from collections import namedtuple

import numpy as np

from ..jit import jit
from ..rng import CAMPAIGN, normal, uniform

# A path's runs, in the order campaign, year, run: the campaign's index, the
# first day, the day after the last (cut at the horizon) and the run's lift.
# Overlapping runs multiply in this order (tests/reference.py does the same).
CampaignRuns = namedtuple("CampaignRuns", "campaign start end lift")

COUNT, START, LIFT = 0, 1, 2
RUNS_PER_YEAR = 1 << 26     # room for j in a year's occurrences (48 bits hold 100 years)
POISSON_PIECE = 16.0        # the largest mean one uniform is inverted for


@jit(inline="always")
def campaign_occurrence(year, j, kind):
    return (year * RUNS_PER_YEAR + j) * 3 + kind


@jit
def poisson_count(pk, c, year, mean):
    """Campaign c's Poisson(mean) count of runs in `year`: the sum of
    ceil(mean / POISSON_PIECE) counts of equal means, each the inverse CDF of
    its own uniform (a sum of independent Poissons is Poisson, so this is
    exact for any mean; a piece's exp(-m) never underflows)."""
    pieces = max(1, np.int64(math.ceil(mean / POISSON_PIECE)))
    m = mean / pieces
    q = math.exp(-m)
    n = np.int64(0)
    for i in range(pieces):
        u = uniform(pk, c, CAMPAIGN, campaign_occurrence(year, i, COUNT))
        k = 0
        p = q
        F = p
        while F < u:            # the smallest k with F(k) >= u
            k += 1
            p *= m / k
            if F + p == F:      # a u within float noise of 1 that F never reaches
                break
            F += p
        n += k
    return n


@jit
def campaign_runs(pk, campaigns, days):
    """The runs of the CAMPAIGN rows `campaigns` on the path with key `pk`
    over days 0..days-1 (days = 365 * years), as CampaignRuns."""
    years = days // 365
    C = campaigns.shape[0]
    count = np.empty((C, years), np.int64)
    n = 0
    for c in range(C):
        for y in range(years):
            if campaigns[c].day_of_year >= 0:
                count[c, y] = 1
            else:
                count[c, y] = poisson_count(pk, c, y, campaigns[c].per_year)
            n += count[c, y]
    runs = CampaignRuns(np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
                        np.empty(n))
    r = 0
    for c in range(C):
        cp = campaigns[c]
        for y in range(years):
            for j in range(count[c, y]):
                d = cp.day_of_year
                if d < 0:
                    u = uniform(pk, c, CAMPAIGN, campaign_occurrence(y, j, START))
                    d = min(np.int64(u * 365.0), 364)      # u in (0, 1]
                lift = cp.lift
                if cp.lift_sigma > 0.0:
                    z = normal(pk, c, CAMPAIGN, campaign_occurrence(y, j, LIFT))
                    lift = cp.lift * math.exp(cp.lift_sigma * z)
                runs.campaign[r] = c
                runs.start[r] = 365 * y + d
                runs.end[r] = min(365 * y + d + cp.duration, days)
                runs.lift[r] = lift
                r += 1
    return runs


@jit
def segment_lift(runs, reach, s, out):
    """out[t]: the product of the lifts of the runs covering day t that reach
    segment s (reach[campaign, s]), 1 elsewhere. Returns whether any run
    reaches s."""
    out[:] = 1.0
    lifted = False
    for r in range(runs.campaign.shape[0]):
        if reach[runs.campaign[r], s]:
            lifted = True
            for t in range(runs.start[r], runs.end[r]):
                out[t] *= runs.lift[r]
    return lifted
