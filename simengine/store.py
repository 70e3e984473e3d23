"""All reading and writing of files: one atomic writer (honouring the
user's umask), one Arrow/Parquet table writer and reader, one manifest
builder for runs, sweeps and calibrations.

Nothing is lost: every file is written to a hidden temporary sibling,
synced, and renamed over its target only when complete; a directory of
files (a run) is written under a hidden temporary name and renamed into
place whole.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numba
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .version import __version__

FORMATS = ("arrow", "parquet")
CHANGE_CHARS = re.compile(r"[^A-Za-z0-9_.=,-]+")
CHANGES_LIMIT = 60          # characters of a folder name's changes suffix


def name_hash(text: str, n=8) -> str:
    """A short hash of `text`, to tell apart names cut to a length."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def changes_suffix(scale=None, overrides=(), paths=None, limit=CHANGES_LIMIT) -> str:
    """What --scale, --set and --paths changed, as the tail of an output
    folder's name (`_scale=0.1_billing.rule=cumulative`), so that outputs
    with different changes are told apart in a listing and never share a
    folder. At most `limit` characters after the `_`: when they do not
    fit, whole ones are kept (never a key cut in two) and the rest is named
    by their number and a hash of all of them (`_scale=0.1_2-more-1a2b3c4d`),
    so names stay unique; the manifest and every report name them in full."""
    parts = ([f"scale={scale:g}"] if scale else []) + [
        "".join(str(x).split()) for x in overrides or ()] + (
        [f"paths={paths}"] if paths is not None else [])
    parts = [t for t in (CHANGE_CHARS.sub("_", p).strip("_.") for p in parts) if t]
    text = "_".join(parts)
    if not text:
        return ""
    if len(text) <= limit:
        return "_" + text
    tag = name_hash(text)

    def cut(k):             # the first k changes, then the number left and the hash
        return "_" + "_".join(parts[:k] + [f"{len(parts) - k}-more-{tag}"])
    k = 0
    while k < len(parts) - 1 and len(cut(k + 1)) - 1 <= limit:
        k += 1
    return cut(k)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _public(path, directory=False):
    """mkstemp/mkdtemp create 0600/0700; give the file the mode a plain
    open() would have under the user's umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_file(path, write) -> Path:
    """Write one file atomically: `write(tmp)` fills a temporary sibling,
    which is synced, given the umask's mode and renamed over `path`; on any
    failure (an interrupt included) it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _public(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_bytes(path, data: bytes) -> Path:
    return atomic_file(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def read_json(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write_table_to(sink, table: pa.Table, fmt: str):
    if fmt == "parquet":
        pq.write_table(table, sink)
    else:
        with ipc.new_file(sink, table.schema) as w:
            w.write_table(table)


def table_file(name: str, fmt: str = "arrow") -> str:
    """The file name of table `name` in format `fmt` (paths.arrow, ...)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return f"{name}.{fmt}"


def write_table(path, table: pa.Table, fmt: str | None = None) -> Path:
    """Write one table atomically, as Arrow IPC (file) or Parquet; the format
    follows the suffix unless given."""
    path = Path(path)
    fmt = fmt or ("parquet" if path.suffix == ".parquet" else "arrow")
    return atomic_file(path, lambda tmp: _write_table_to(tmp, table, fmt))


def table_bytes(table: pa.Table, fmt: str = "arrow") -> bytes:
    """A table serialised in memory (to ship between processes)."""
    sink = pa.BufferOutputStream()
    _write_table_to(sink, table, fmt)
    return sink.getvalue().to_pybytes()


def read_table(path) -> pa.Table:
    """Read an Arrow IPC file or stream, or a Parquet file."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pq.read_table(path)
    try:
        with ipc.open_file(path) as r:
            return r.read_all()
    except pa.ArrowInvalid:
        with ipc.open_stream(path) as r:
            return r.read_all()


@contextmanager
def atomic_directory(directory):
    """Yield a hidden temporary sibling of `directory` to fill; rename it
    into place when the block completes, remove it on any failure. Refuses a
    `directory` that exists (nothing is ever overwritten)."""
    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(f"{directory} already exists; nothing is overwritten")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".partial",
                                dir=directory.parent))
    try:
        _public(tmp, directory=True)
        yield tmp
        os.rename(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_creatable(path) -> None:
    """Raise OSError (with a message saying why) unless `path` can be
    created, before any work: it must not exist, and its nearest existing
    ancestor must be a directory in which a file can really be created (a
    probe file is made and removed: permissions, a read-only or special file
    system are all found). Missing directories in between are not created."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path}: already exists")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise OSError(f"{path}: cannot be created: {parent} is a broken link")
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{path}: cannot be created: {parent} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".simengine-probe.", dir=parent)
    except OSError as e:
        raise OSError(f"{path}: cannot be created: cannot write in {os.path.abspath(parent)}: "
                      f"{e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numba": numba.__version__}


def manifest(kind: str, **facts) -> dict:
    """The manifest of a run, sweep or calibration: its kind, the engine
    version and the machine, then the facts the caller gives, in order."""
    return {"kind": kind, **facts, "engine_version": __version__, "machine": machine()}
