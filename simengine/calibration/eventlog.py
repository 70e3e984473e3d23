"""The simulated contact log that `simengine run --events` writes (docs/model.md
section 11 columns plus `path` and `segment`), so that a calibration can be
tried on a history whose parameters are known.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import store
from ..scenario import ScenarioError
from .events import ADD_FRIEND, DEL_FRIEND_CUSTOMER

MAX_EVENT_ROWS = 1_000_000          # `simengine run --events` refuses larger logs
LOG_EPOCH = "2025-01-01"            # day 0 of a simulated log (docs/model.md section 11)


def check_event_log_size(scn, max_rows=MAX_EVENT_ROWS):
    """Refuse before a run a contact log that is sure to exceed `max_rows`:
    every path logs at least its initial contacts (active on day 0 under every
    strategy); adds may all be blocked, so they are not counted here. The exact
    count is checked when the log is written."""
    low = scn.paths * sum(s.initial_contacts for s in scn.segments)
    if low > max_rows:
        raise ScenarioError(
            f"{scn.source}: --events: the contact log would have at least {low:,} rows "
            f"(the initial contacts of {scn.paths:,} paths, before any add or churn), more "
            f"than the limit of {max_rows:,}; lower scenario.paths or population.size for --events")


def event_log_table(scn, strategy, log) -> pa.Table:
    """The Arrow table of `engine.contact_log` columns: customers `c<id>`,
    members `m<id mod staff.members>`, times from LOG_EPOCH (the window's
    start, `simengine_start`; aged starting contacts' adds before it)."""
    from ..version import __version__
    from ..kernel.layout import LOG_ADD
    n = len(log["day"])
    # a starting contact with an age was added that long before the start
    # (to the second): the history a real log's contact list gives
    before = np.rint(log["age"] * 86_400).astype("timedelta64[s]")
    t = (np.datetime64(LOG_EPOCH, "s") + log["day"].astype("timedelta64[D]")
         - before).astype("datetime64[s]")
    cust = log["customer"]
    members = scn.staff.members
    member = cust % members if members else np.zeros(n, dtype=np.int64)
    seg_names = np.array([s.name for s in scn.segments], dtype=object)
    is_add = log["kind"] == LOG_ADD
    table = pa.table({
        "time": pa.array(t, type=pa.timestamp("s")),
        "external_user_id": pa.array(np.char.add("c", cust.astype(str)).astype(object), type=pa.string()),
        "user_id": pa.array(np.char.add("m", member.astype(str)).astype(object), type=pa.string()),
        "chat_id": pa.array(np.full(n, "", dtype=object), type=pa.string()),
        "event": pa.array(np.where(is_add, ADD_FRIEND, DEL_FRIEND_CUSTOMER).astype(object),
                          type=pa.string()),
        "path": pa.array(log["path"].astype(np.int64), type=pa.int64()),
        "segment": pa.array(seg_names[log["segment"]] if n else np.zeros(0, object), type=pa.string()),
    })
    meta = {b"table": b"events", b"scenario_sha256": scn.sha256.encode(),
            b"scenario_name": scn.name.encode(), b"engine_version": __version__.encode(),
            b"strategy": strategy.encode(), b"simengine_start": LOG_EPOCH.encode(),
            b"simengine_days": str(scn.days).encode(), b"paths": str(scn.paths).encode()}
    return table.replace_schema_metadata(meta)


def write_event_log(scn, run_dir, strategy=None, path=None, max_rows=MAX_EVENT_ROWS) -> Path:
    """Write the contact log of one strategy (default: the first) on every path
    of `scn` as `run_dir/events.arrow` (or `path`): docs/model.md section 11 columns plus
    `path` and `segment`. Raises ScenarioError when it would exceed `max_rows`."""
    from ..engine import contact_log
    check_event_log_size(scn, max_rows)
    if strategy is None:
        strategy = scn.strategies[0].name
    log = contact_log(scn, strategy, max_rows=max_rows)
    target = Path(path) if path is not None else Path(run_dir) / "events.arrow"
    return store.write_table(target, event_log_table(scn, strategy, log), "arrow")
