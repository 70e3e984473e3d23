"""How the package's numba functions are compiled: `jit`, or `jit_inner`
for a function that only other numba functions call.

Both compile on first use and keep the machine code in numba's on-disk
cache (`_numba_cache.py` names the folder). Numba also builds wrappers for
every compiled function: a C callback (for taking its address, which
nothing here does) and a Python entry point (which unboxes every argument:
hundreds of instructions for records and namedtuples of arrays). Neither is
built where it is not used, which saves a good part of the first compile
(a `jit_inner` function called from Python raises a TypeError). Every
function releases the GIL (the driver's threads need it of the kernel's
entry point): numba compiles the functions it provides, such as
`np.empty`, once per set of options of their callers, so one set for all.
"""
from numba import njit
from numba.core.registry import CPUDispatcher

COMPILED = {"cache": True, "nogil": True, "no_cfunc_wrapper": True}


def jit(fn=None, **options):
    """`@jit` or `@jit(option=...)`: a numba function callable from Python."""
    return _decorate(fn, {**COMPILED, **options})


def jit_inner(fn=None, **options):
    """`@jit_inner`: a numba function that only numba functions call."""
    def inner(f):
        dispatcher = njit(f, **COMPILED, no_cpython_wrapper=True, **options)
        dispatcher.__class__ = InnerDispatcher
        return dispatcher
    return inner if fn is None else inner(fn)


def _decorate(fn, options):
    return njit(**options) if fn is None else njit(fn, **options)


class InnerDispatcher(CPUDispatcher):
    """A numba function without a Python entry point: a call from Python
    would jump to none, so it raises instead."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled "
                        "for numba callers only (simengine.jit.jit_inner)")
