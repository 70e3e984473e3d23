"""Where numba keeps the compiled kernels: a folder named by a hash of the
sources of every numba module.

numba's own cache checks only the file of the function it compiled, so after
a change to `billing.py` (or a new version installed over an old one) the
cached kernel that calls it would run the old rule. Keying the folder by
every kernel source makes any change compile afresh. A NUMBA_CACHE_DIR set
by the user wins.
"""
import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# the modules with numba functions (a kernel calls across all of them) and
# the options they are compiled with
KERNEL_SOURCES = ("jit.py", "rng.py", "billing.py", "strategies.py", "kernel/*.py")


def sources_hash() -> str:
    h = hashlib.sha256()
    for pattern in KERNEL_SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "simengine" / f"numba-{sources_hash()}"


def configure():
    """Point numba's cache at `cache_dir()` unless the user chose one; must
    run before any numba function is defined."""
    import numba
    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(cache_dir())
