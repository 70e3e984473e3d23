"""A resolved scenario (as a run's manifest holds it) in words, for the HTML
report: what the customers do, how WeCom bills, what each strategy does.

Every sentence is made from the resolved scenario's values, so the words
cannot drift from what was simulated.
"""
from __future__ import annotations

import math

RULES = {
    "concurrent": "usage is the number of contacts held at a time",
    "cumulative": "usage is the contacts held at the period's start plus every add since "
                  "(churn gives no quota back until the next period)",
}
PRICING = {
    "prorated": "an upgrade costs the price difference pro rata for the days left in the period",
    "difference": "an upgrade costs the price difference between the tiers",
    "full": "an upgrade costs the new tier's full price",
}


def _n(v) -> str:
    return f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)


def _yearly(rate) -> str:
    """A daily hazard as the chance it happens within a year."""
    if not isinstance(rate, (int, float)):
        return str(rate)
    return f"{100 * (1 - math.exp(-365 * rate)):.1f}%"


def _pct(v) -> str:
    return f"{100 * v:.0f}%" if isinstance(v, (int, float)) else str(v)


def _list(items) -> str:
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def _calendar_day(day_of_year) -> str:
    """A 0-based day of a 365-day year as a date a reader knows (165: 16 June)."""
    import datetime as dt
    d = dt.date(2025, 1, 1) + dt.timedelta(days=int(day_of_year))
    return f"{d.day} {MONTH_NAMES[d.month - 1]} (day {day_of_year})"


def overview(resolved: dict) -> list[str]:
    """Paragraphs: the population, the horizon, billing, growth, overflow."""
    sc, pop = resolved.get("scenario", {}), resolved.get("population", {})
    b, g = resolved.get("billing", {}), resolved.get("growth", {})
    ov, staff = resolved.get("overflow", {}), resolved.get("staff", {})
    segments = resolved.get("segment", [])
    years = sc.get("horizon_years", 1)
    initial = sum(s.get("initial_contacts", 0) for s in segments)
    out = [f"{_n(pop.get('size'))} addressable customers in {len(segments)} "
           f"segment{'s' * (len(segments) != 1)} ({_list(s['name'] for s in segments)}), "
           f"{_n(initial)} of them WeCom contacts at the start, simulated day by day for "
           f"{years} year{'s' * (years != 1)} along {_n(sc.get('paths'))} random paths "
           f"(seed {sc.get('seed')}); every strategy meets the same customers on each path."]
    certified = b.get("certified", True)
    free = 2000 if certified else 100
    tiers = ", ".join(f"{_n(size)} for {_n(price)}" for size, price in b.get("tiers", []))
    covers = ("a tier's size is the whole scale" if b.get("tier_covers", "total") == "total"
              else "a tier's size comes on top of the free quota")
    fee = b.get("certification_fee", 0)
    billing = (f"Billing: {'certified' if certified else 'not certified'} ({_n(free)} contacts "
               f"free{f', certification {_n(fee)} yuan a period' if certified and fee else ''}); "
               f"{b.get('period_days', 365)}-day billing periods; the "
               f"{b.get('rule', 'concurrent')} rule: {RULES.get(b.get('rule'), '')}. "
               f"Tiers (contacts for yuan a period): {tiers}; {covers}; "
               f"{PRICING.get(b.get('upgrade_pricing'), '')}. When usage reaches capacity, new "
               "adds are blocked; contacts already held are kept.")
    lead = b.get("lead_days", 0)
    if lead:
        billing += (f" An upgrade ordered today is in force {_n(lead)} day{'s' * (lead != 1)} "
                    "later (approval and payment); adds meet the old capacity meanwhile, and "
                    "an order still waiting at a renewal is cancelled.")
    if staff.get("members"):
        billing += (f" {_n(staff['members'])} members may hold at most "
                    f"{_n(staff.get('friend_cap', 50000))} customers each.")
    out.append(billing)
    season = g.get("season", [1] * 12)
    peaks = [str(i + 1) for i, v in enumerate(season) if v == max(season)] \
        if max(season) > min(season) else []
    sigma, churn_sigma = g.get("sigma", 0), g.get("churn_sigma", 0)
    growth = ("Adoption follows the calendar" + (f", peaking in month {_list(peaks)}" if peaks
                                                 else "") + ". ")
    if sigma or churn_sigma:
        growth += (f"Each path draws a growth multiplier (lognormal, sigma {sigma:g}: one path "
                   f"in 20 adopts {_pct(math.exp(1.645 * sigma) - 1)} faster than the median "
                   f"or more) and a churn multiplier (sigma {churn_sigma:g}), shared by every "
                   "strategy.")
    if resolved.get("campaign"):
        growth += " " + campaign_words(resolved["campaign"], [s["name"] for s in segments])
    out.append(growth)
    out.append(f"A personal WeChat account (overflow) holds {_n(ov.get('account_capacity'))} "
               f"customers and costs {_n(ov.get('account_cost', 0))} yuan a period.")
    return out


def campaign_words(campaigns: list, segments=()) -> str:
    """The campaigns in a sentence: when each runs, how long, its lift."""
    parts = []
    for c in campaigns:
        days = c.get("duration_days", 1)
        span = f"{days} day{'s' * (days != 1)}"
        if c.get("day_of_year") is not None:
            when = f"from {_calendar_day(c['day_of_year'])} every year for {span}"
        else:
            when = f"about {c.get('per_year'):g} times a year on random days, {span} each"
        lift = f"first adds times {c.get('lift'):g}"
        if c.get("lift_sigma"):
            lift += f" at the median (varying from run to run, sigma {c['lift_sigma']:g})"
        reach = c.get("segments") or list(segments)
        if segments and set(reach) != set(segments):
            lift += f" for {_list(reach)}"
        parts.append(f"{c.get('name')} {when}, {lift}")
    return "Campaigns: " + "; ".join(parts) + "."


SEGMENT_HEADERS = ("segment", "share", "initial contacts", "adds within a year",
                   "churns within a year", "re-adds after churn", "re-add delay, days",
                   "lost customer, yuan")


def segment_rows(resolved: dict) -> list[list[str]]:
    """A row per segment, rates as the chance within a year."""
    rows = []
    for s in resolved.get("segment", []):
        shape = s.get("churn_shape", "inf")
        churn = _yearly(s.get("churn_rate"))
        if shape not in ("inf", math.inf):
            churn += f" (gamma shape {shape:g})"
        rows.append([s["name"], _pct(s.get("share", 1.0)), _n(s.get("initial_contacts", 0)),
                     _yearly(s.get("adoption_rate")), churn,
                     _pct(s.get("readd_prob", 0)), _n(s.get("readd_delay_days", 30)),
                     _n(s.get("lost_value", 0))])
    return rows


def _headroom(st) -> str:
    h = st.get("headroom", 0) or 0
    return f" with {_pct(h)} headroom" if h else ""


def _ordering(st) -> str:
    """When a strategy orders its upgrade, in words ("" without an upgrade)."""
    if st.get("upgrade", "next") == "none":
        return ""
    at = st.get("upgrade_at", 1.0)
    look = st.get("review_days", 0)
    when = " when the scale is full" if at >= 1 else f" at {_pct(at)} of the scale"
    return when + (f" on a look every {_n(look)} day{'s' * (look != 1)}" if look else "")


def strategy_words(st: dict, segments=()) -> str:
    """One strategy in a sentence."""
    renewal = st.get("renewal", "fit")
    if renewal == "oracle":
        parts = ["hindsight benchmark: on each path, the cheapest tiers and upgrades that "
                 "never block anyone (regret is measured against it)"]
    else:
        parts = [{"none": "buys no tier (the free quota only)",
                  "fixed": f"buys the {_n(st.get('tier'))} tier every period",
                  "fit": "renews to the smallest tier that fits usage" + _headroom(st),
                  "forecast": "renews for usage plus the last 90 days' trend" + _headroom(st),
                  }.get(renewal, f"renewal {renewal}")]
        parts.append({"none": "never upgrades", "next": "orders one tier up",
                      "fit": "orders the smallest tier that fits" + _headroom(st)
                      }.get(st.get("upgrade", "next"), "") + _ordering(st))
    admit = st.get("admit") or list(segments)
    if segments and set(admit) != set(segments):
        where = "go to personal WeChat" if st.get("others") == "overflow" else "are lost"
        parts.append(f"admits only {_list(admit)} into WeCom (the others {where})")
    for seg, contacts in (st.get("reserve") or {}).items():
        parts.append(f"keeps {_n(contacts)} contacts of capacity out of {seg}'s reach")
    if renewal != "oracle":
        blocked = st.get("on_blocked", "lost")
        parts.append({"lost": "a blocked customer is lost",
                      "overflow": "a blocked customer goes to personal WeChat",
                      "retry": f"a blocked customer tries again after about "
                               f"{st.get('retry_days', 14):g} days, up to "
                               f"{st.get('max_retries', 3)} times, then is lost",
                      }.get(blocked, blocked))
    text = "; ".join(p for p in parts if p)
    return text[0].upper() + text[1:] + "."


def waiting_words(summary, strategies, lead_days) -> str | None:
    """A sentence on the adds that waited on an order (billing.lead_days):
    per strategy that had any, the mean blocked attempts a path and how many
    of them were blocked while an upgrade was on order. None when none
    waited (no lead time, or no order ever blocked anyone)."""
    means = {(r["strategy"], r["metric"]): r["mean"] for r in summary.to_pylist()
             if r["metric"] in ("blocked", "blocked_pending")}
    parts = []
    for name in strategies:
        waited = means.get((name, "blocked_pending")) or 0.0
        if waited > 0:
            blocked = means.get((name, "blocked")) or waited
            parts.append(f"{name} {_n(waited)} of {_n(blocked)} ({_pct(waited / blocked)})")
    if not parts:
        return None
    return (f"Adds blocked while an upgrade was on order ({_n(lead_days)} "
            f"day{'s' * (lead_days != 1)} from order to use), mean per path: "
            + "; ".join(parts) + ".")
