"""How the package's numba functions are compiled: `jit`, or `jit_inner`
for a function that only other numba functions call.

Both compile on first use and keep the machine code in numba's on-disk
cache (`_numba_cache.py` names the folder). Numba also builds wrappers for
every compiled function: a C callback (for taking its address, which
nothing here does) and a Python entry point (which unboxes every argument:
hundreds of instructions for records and namedtuples of arrays). Neither is
built where it is not used, which saves a good part of the first compile;
a `jit_inner` function called from Python raises a TypeError.
"""
from numba import njit

COMPILED = {"cache": True, "no_cfunc_wrapper": True}


def jit(fn=None, **options):
    """`@jit` or `@jit(option=...)`: a numba function callable from Python."""
    return _decorate(fn, {**COMPILED, **options})


def jit_inner(fn=None, **options):
    """`@jit_inner`: a numba function that only numba functions call."""
    return _decorate(fn, {**COMPILED, "no_cpython_wrapper": True, **options})


def _decorate(fn, options):
    return njit(**options) if fn is None else njit(fn, **options)
