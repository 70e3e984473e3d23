"""A sweep's folder: one hive-partitioned Arrow dataset per table, resumable
point by point, every file written through `store` (atomic, user's umask).

Layout of `OUT/<folder>/` (docs/model.md section 10, docs/sweeps.md; the folder is
the sweep's name, with what --scale, --set and --paths changed appended:
`Sweep.folder`):

    paths/<k1>=<v1>/<k2>=<v2>/part.arrow     one tree per table, so that
    periods/.../part.arrow                   pyarrow.dataset.dataset(OUT/<name>/paths,
    monthly/.../part.arrow                   format="arrow", partitioning="hive")
    summary/.../part.arrow                   reads every point in one call
    sweep_summary.arrow                      a row per point x strategy x metric
                                             (part.parquet and sweep_summary.parquet
                                             with `--format parquet`)
    manifest.json                            "kind": "sweep", the sweep file, the points
    plots/, report.md                        written by `simengine report`
    .done/<sha256>.json                      a point's marker (and its run manifest)
    .stale/<sha256>/ .lock                   kept-aside old points; one sweep at a time

A point is identified by the sha256 of its resolved scenario; it is finished
iff its marker exists, names the current engine version and its four files
exist. Each file is written atomically, the marker last. On a rerun,
finished points are skipped, files of unfinished points are deleted, and
finished points no longer in the sweep (the file was edited) are moved to
`.stale/<sha256>/` (out of the dataset; a later sweep that needs them again
moves them back), and the run says so.

Each folder belongs to one sweep: its manifest records the sweep file's
path and resolved hash, and a different sweep of the same name is refused;
a folder that cannot be written is refused before any work.

(`pyarrow.dataset.write_dataset` is not used: a point is one known
partition written file by file, atomically, which it does not do; and its
float partition names (`2`, `0.00001`) differ from the documented `repr`.)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import filelock
import pyarrow as pa

from .. import store
from ..scenario import ScenarioError
from ..schema import SUMMARY
from ..version import __version__
from .spec import ARROW_TYPES, TABLES, Sweep, column_value, hive_partitioning, part_file

SUMMARY_FILE = "sweep_summary.arrow"


def summary_file(fmt="arrow") -> str:
    return f"sweep_summary.{fmt}"


def folder_format(manifest: dict) -> str:
    """The table format a sweep folder was written in (older folders: arrow)."""
    return manifest.get("format", "arrow") if isinstance(manifest, dict) else "arrow"
MANIFEST_FILE = "manifest.json"
DONE = ".done"
STALE = ".stale"
LOCK = ".lock"
DEFAULT_OUT = "results"


class SweepError(ScenarioError):
    """A sweep that cannot run, or a folder that cannot be read, as asked:
    the folder holds another sweep, another sweep is writing it, it is not a
    sweep folder. Nothing was done; the message says how to proceed."""


# --------------------------------------------------------------------------
# The folder's owner, and one writer at a time

def read_manifest(directory) -> dict:
    """The manifest of a sweep folder; SweepError when it is not one."""
    path = Path(directory) / MANIFEST_FILE
    try:
        m = store.read_json(path)
    except (OSError, ValueError) as e:
        raise SweepError(f"{path}: cannot read the sweep manifest: {e}") from None
    if not isinstance(m, dict) or m.get("kind") != "sweep":
        kind = m.get("kind") if isinstance(m, dict) else None
        raise SweepError(f"{path}: not a sweep directory (manifest kind is {kind!r}, "
                         'expected "sweep")')
    return m


def check_owner(root: Path, sweep: Sweep):
    """Refuse a folder that holds another sweep of the same name: the same
    sweep file (edited or not) or the same resolved sweep (the file moved or
    copied) may resume there; any other sweep needs its own folder."""
    path = root / MANIFEST_FILE
    if not path.exists():
        return
    try:
        m = store.read_json(path)
    except (OSError, ValueError):
        return                  # an unreadable manifest is rewritten by the run
    if not isinstance(m, dict) or m.get("kind") != "sweep":
        raise SweepError(f"{root}: holds a {m.get('kind') if isinstance(m, dict) else None!r} "
                         f"directory, not a sweep; pass --out DIR to write the sweep "
                         f"{sweep.name!r} elsewhere")
    if folder_format(m) != sweep.fmt:
        raise SweepError(
            f"{root}: holds this sweep's points as {folder_format(m)} files, not "
            f"{sweep.fmt}; rerun with --format {folder_format(m)} to resume it, or pass "
            f"--out DIR to write a {sweep.fmt} copy elsewhere")
    if "sweep_sha256" not in m:
        return                  # written before folders recorded their sweep
    if m.get("sweep_path") == sweep.path or m["sweep_sha256"] == sweep.sha256:
        return
    raise SweepError(
        f"{root}: holds the results of another sweep named {sweep.name!r} (from "
        f"{m.get('sweep_path')}); {sweep.source} would mix its points with those. Give this "
        f"sweep another name ([sweep] name = ...), or pass --out DIR to write it under "
        f"another folder, or delete {root} to start afresh")


def check_writable(root: Path):
    """Refuse, before any work, a sweep folder that cannot be written: one
    that exists must be a directory that takes a new file, one that does not
    must be creatable where it goes (store.check_creatable)."""
    advice = "; pass --out DIR to write the sweep elsewhere"
    if root.is_dir():
        try:
            fd, probe = tempfile.mkstemp(prefix=".simengine-probe.", dir=root)
        except OSError as e:
            raise SweepError(f"{root}: cannot write in it: {e.strerror or e}{advice}") from None
        os.close(fd)
        os.unlink(probe)
    elif root.exists() or root.is_symlink():
        raise SweepError(f"{root}: exists and is not a directory{advice}")
    else:
        try:
            store.check_creatable(root)
        except OSError as e:
            raise SweepError(f"{e}{advice}") from None


@contextlib.contextmanager
def locked(root: Path):
    """One sweep at a time per folder (an OS lock, released if we die)."""
    root.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(root / LOCK), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise SweepError(f"{root}: another sweep is writing this directory; wait for it "
                         "to finish") from None
    try:
        yield
    finally:
        lock.release()


# --------------------------------------------------------------------------
# Points

def _remove(path: Path, root: Path):
    """Delete a file (if there) and the directories it leaves empty, up to root."""
    if path.is_file() or path.is_symlink():
        path.unlink()
    d = path.parent
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            break
        d = d.parent


def write_point(root: Path, point, result, run_manifest: dict, fmt="arrow"):
    """Write one point's four tables, each atomically, then its marker
    (last). On any failure the files already placed are taken back; after a
    hard kill, the next run deletes files that have no marker."""
    files = point.files(fmt)
    try:
        for t in TABLES:
            store.write_table(root / files[t], getattr(result, t), fmt)
        store.write_json(root / DONE / f"{point.sha256}.json", {
            "scenario_sha256": point.sha256, "engine_version": __version__,
            "values": point.values, "partition": point.partition, "files": files,
            "run": run_manifest})
    except BaseException:
        for rel in files.values():
            with contextlib.suppress(OSError):
                _remove(root / rel, root)
        raise


def _markers(root: Path) -> dict:
    """sha256 -> marker of every readable marker; unreadable ones are deleted."""
    markers = {}
    done_dir = root / DONE
    for f in sorted(done_dir.glob("*.json")) if done_dir.is_dir() else []:
        try:
            m = store.read_json(f)
            if set(m["files"]) != set(TABLES):
                raise ValueError
            markers[f.stem] = m
        except (ValueError, KeyError, TypeError, OSError):
            f.unlink()
    return markers


def _move(root: Path, sha, marker, files):
    """Move a finished point's files (into or out of the dataset), then its marker."""
    for t in TABLES:
        src, dest = root / marker["files"][t], root / files[t]
        if src == dest:
            continue
        if dest.exists():
            _remove(dest, root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        _remove(src, root)          # prunes emptied folders
    marker["files"] = files
    store.write_json(root / DONE / f"{sha}.json", marker)


def reconcile(root: Path, sweep: Sweep) -> tuple:
    """Bring the folder in line with the sweep (see the module docstring);
    return (the indices of the points already finished, the sha256s of the
    finished points set aside into .stale/ now, those moved back from it)."""
    current = {p.sha256: p for p in sweep.points}
    markers = _markers(root)

    def intact(m):
        return all((root / rel).is_file() for rel in m["files"].values())

    def drop(sha, m):
        for rel in m["files"].values():
            _remove(root / rel, root)
        (root / DONE / f"{sha}.json").unlink(missing_ok=True)

    set_aside, restored = [], []
    # finished points no longer in the sweep: out of the dataset, kept aside
    for sha, m in list(markers.items()):
        if sha in current:
            continue
        if not intact(m):
            drop(sha, m)
            continue
        stale = {t: f"{STALE}/{sha}/{t}.{sweep.fmt}" for t in TABLES}
        if m["files"] != stale:
            m["partition"] = None
            _move(root, sha, m, stale)
            set_aside.append(sha)
    # points of this sweep: finished (perhaps elsewhere: moved back) or not
    done, expected = set(), set()
    for sha, p in current.items():
        m = markers.get(sha)
        if m is None:
            continue
        if not intact(m) or m.get("engine_version") != __version__:
            drop(sha, m)
            continue
        if m["files"] != p.files(sweep.fmt):
            if m["files"]["paths"].startswith(STALE + "/"):
                restored.append(sha)
            m["partition"], m["values"] = p.partition, p.values
            _move(root, sha, m, p.files(sweep.fmt))
        done.add(p.index)
        expected.update(p.files(sweep.fmt).values())
    # anything else in the table trees is a leftover of an unfinished point
    for t in TABLES:
        if (root / t).is_dir():
            for f in sorted((root / t).rglob(part_file(sweep.fmt))):
                if f.relative_to(root).as_posix() not in expected:
                    _remove(f, root)
    shutil.rmtree(root / ".tmp", ignore_errors=True)      # the work area of older versions
    return done, set_aside, restored


# --------------------------------------------------------------------------
# The sweep's own files

def sweep_summary(root: Path, sweep: Sweep, done: set) -> pa.Table:
    """A row per finished point x strategy x metric, swept keys first."""
    parts = []
    for p in sweep.points:
        if p.index not in done:
            continue
        s = store.read_table(root / p.files(sweep.fmt)["summary"]).replace_schema_metadata(None)
        n = s.num_rows
        cols = [pa.array([column_value(p.values[k], sweep.key_types[k])] * n,
                         type=ARROW_TYPES[sweep.key_types[k]]) for k in sweep.keys]
        cols += [pa.array([p.index] * n, pa.int64()), pa.array([p.sha256] * n, pa.string())]
        parts.append(pa.Table.from_arrays(cols + s.columns,
                                          names=list(sweep.keys) + ["point", "scenario_sha256"]
                                          + s.column_names))
    meta = {b"sweep_name": sweep.name.encode(), b"engine_version": __version__.encode(),
            b"swept_keys": json.dumps(list(sweep.keys)).encode(), b"table": b"sweep_summary"}
    if parts:
        table = pa.concat_tables(parts)
    else:
        fields = [(k, ARROW_TYPES[sweep.key_types[k]]) for k in sweep.keys]
        fields += [("point", pa.int64()), ("scenario_sha256", pa.string())]
        table = pa.schema(fields + list(SUMMARY.arrow_schema())).empty_table()
    return table.replace_schema_metadata(meta)


def write_summary(root: Path, sweep: Sweep, done: set):
    store.write_table(root / summary_file(sweep.fmt), sweep_summary(root, sweep, done), sweep.fmt)


def sweep_manifest(sweep: Sweep, status: dict, executor: dict, started, wall, walls) -> dict:
    """manifest.json: the sweep file and its identity, the layout, the
    executor, and each point's state."""
    return store.manifest(
        "sweep", name=sweep.name, description=sweep.description,
        sweep_file=sweep.source, sweep_path=sweep.path, sweep_sha256=sweep.sha256,
        sweep_toml=sweep.text, base=sweep.base, set=sweep.settings,
        axes=[list(a) for a in sweep.axes], keys=list(sweep.keys), key_types=sweep.key_types,
        strategies=list(sweep.strategies), command_line=list(sweep.command_line),
        format=sweep.fmt,
        layout={"tables": {t: f"{t}/<key>=<value>/.../{part_file(sweep.fmt)}" for t in TABLES},
                "summary": summary_file(sweep.fmt),
                "read": f'pyarrow.dataset.dataset(DIR/"paths", format="{_ds_format(sweep.fmt)}", '
                        'partitioning="hive")'},
        executor=executor, started=started, wall_seconds=wall,
        complete=all(s == "done" for s in status.values()),
        points=[{"index": p.index, "values": p.values, "axes": list(p.axes),
                 "partition": p.partition, "scenario_sha256": p.sha256,
                 "paths": p.scenario.paths, "seed": p.scenario.seed,
                 "status": status[p.index],
                 "this_run": ("simulated" if p.index in walls else
                              "skipped" if status[p.index] == "done" else "not run"),
                 "wall_seconds": walls.get(p.index),
                 "marker": f"{DONE}/{p.sha256}.json"} for p in sweep.points])


# --------------------------------------------------------------------------
# Reading

def open_dataset(directory, table="paths"):
    """`table` of every point of a sweep folder as one pyarrow Dataset, the
    swept keys typed as in the sweep file (int, float, string, bool).
    (`pyarrow.dataset.dataset(DIR/table, format="arrow", partitioning="hive")`
    reads the same rows; its inference types floats as strings.)"""
    import pyarrow.dataset as ds      # 0.2 s to import: only when a sweep is read back
    if table not in TABLES:
        raise ValueError(f"table: expected one of {', '.join(TABLES)}, got {table!r}")
    m = read_manifest(directory)
    return ds.dataset(Path(directory) / table, format=_ds_format(folder_format(m)),
                      partitioning=hive_partitioning(m["keys"], m["key_types"]))


def _ds_format(fmt) -> str:
    return "parquet" if fmt == "parquet" else "arrow"


def read_sweep_summary(directory) -> pa.Table:
    """sweep_summary.arrow (or .parquet): a row per finished point x
    strategy x metric."""
    path = Path(directory) / SUMMARY_FILE
    if not path.exists() and (Path(directory) / summary_file("parquet")).exists():
        path = Path(directory) / summary_file("parquet")
    try:
        return store.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise SweepError(f"{path}: cannot read: {e}") from None
