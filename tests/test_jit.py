"""simengine.jit: numba functions compiled without a Python entry point for
numba callers, with a twin for Python callers, which alone is kept in
numba's on-disk cache, under a name of its own."""
import os
import subprocess
import sys
import textwrap

import pytest

from simengine.jit import jit, jit_inner

MODULE = textwrap.dedent("""
    from simengine.jit import jit

    @jit
    def add(a, b):
        return a + b

    @jit
    def twice(a):
        return add(a, a)
""")

# in a fresh process: numba callers first (the function's own compile, no
# entry point), then Python's call (the twin); the second process finds
# both in the cache, and must call the twin, not the other one
SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import twinmod
    print(twinmod.twice(3), twinmod.add(4, 5), len(twinmod.add.overloads),
          twinmod.add.python_twin.py_func.__qualname__)
""")


@jit
def _add(a, b):
    return a + b


@jit
def _twice(a):
    return _add(a, a)


@jit_inner
def _inner(a):
    return a + 1


def test_a_python_call_goes_to_the_twin_and_numba_calls_to_the_function():
    assert _twice(3) == 6
    # _twice's twin compiled _add for a numba caller: no entry point, no twin
    assert len(_add.overloads) == 1
    assert "_twin" not in _add.__dict__
    assert _add(4, 5) == 9
    twin = _add.python_twin
    assert twin.py_func.__qualname__ == _add.py_func.__qualname__ + "_python"
    assert twin.py_func is not _add.py_func and len(twin.overloads) == 1
    assert _add.python_twin is twin                 # built once


def test_an_inner_function_refuses_a_python_call():
    with pytest.raises(TypeError, match="numba callers only"):
        _inner(1)


def test_only_the_twin_is_cached_and_under_its_own_name(tmp_path):
    (tmp_path / "twinmod.py").write_text(MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    # the second process loads both from the cache: `add` is not compiled
    assert runs[0].stdout.split() == ["6", "9", "1", "add_python"]
    assert runs[1].stdout.split() == ["6", "9", "0", "add_python"]
    index = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").rglob("*.nbi"))
    # only what Python calls is cached (its code holds what it calls)
    assert index == ["twinmod.add_python", "twinmod.twice_python"]
