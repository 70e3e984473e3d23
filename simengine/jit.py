"""How the package's numba functions are compiled: `jit`, `jit_inner` for
a function that only other numba functions call, and `jit_entry` for the
kernel's entry point.

All compile on first use. What Python calls (the entry point, the twins
below) keeps its machine code in numba's on-disk cache (`_numba_cache.py`
names the folder): that code holds every function it calls, so a function
only numba calls is not cached on its own (its cache entry would be read
only to compile a new caller; writing a hundred of them cost 0.5 s of the
first compile). Numba also builds wrappers for
every compiled function: a C callback (for taking its address, which
nothing here does) and a Python entry point (which unboxes every argument:
hundreds of instructions for records and namedtuples of arrays). Neither is
built where it is not used, which saves a good part of the first compile:

- a `jit` function is compiled for numba callers without either; a call
  from Python (a test, a Python helper) compiles and calls its *Python
  twin*, the same function compiled with its entry point and cached apart.
  A run compiles the twins of the few functions Python calls, so the
  kernel's fifty-odd `jit` functions are compiled once each, without an
  entry point (1.4 s less of a 22 s first compile than with one each);
- a `jit_inner` function has no twin: a call from Python raises a
  TypeError (for what Python cannot call, such as a function that
  returns a record);
- `jit_entry`: the kernel's entry point (`path.simulate_path`), which the
  driver calls from Python and compiles ahead; it has its entry point.

Every function releases the GIL (the driver's threads need it of the
kernel's entry point): numba compiles the functions it provides, such as
`np.empty`, once per set of options of their callers, so one set for all
that numba calls.
"""
import threading
import types

from numba import njit
from numba.core.registry import CPUDispatcher

COMPILED = {"cache": True, "nogil": True, "no_cfunc_wrapper": True}
INNER = {**COMPILED, "cache": False, "no_cpython_wrapper": True}


def jit(fn=None, **options):
    """`@jit` or `@jit(option=...)`: a numba function; from Python, its twin."""
    def compiled(f):
        dispatcher = njit(f, **INNER, **options)
        dispatcher.__class__ = TwinnedDispatcher
        dispatcher._twin_options = {**COMPILED, **options}
        dispatcher._twin_lock = threading.Lock()
        return dispatcher
    return compiled if fn is None else compiled(fn)


def jit_inner(fn=None, **options):
    """`@jit_inner`: a numba function that only numba functions call."""
    def compiled(f):
        dispatcher = njit(f, **INNER, **options)
        dispatcher.__class__ = InnerDispatcher
        return dispatcher
    return compiled if fn is None else compiled(fn)


def jit_entry(fn):
    """`@jit_entry`: a numba function called from Python, with its entry point."""
    return njit(fn, **COMPILED)


class InnerDispatcher(CPUDispatcher):
    """A numba function without a Python entry point: a call from Python
    would jump to none, so it raises instead."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled "
                        "for numba callers only (simengine.jit.jit_inner)")


class TwinnedDispatcher(CPUDispatcher):
    """A numba function without a Python entry point, whose calls from
    Python go to its twin: a copy of the Python function under the name
    `<name>_python` (numba's cache files are named by the function, and
    keep no record of the wrappers: the twin's must not be this one's),
    compiled with its entry point on the first such call."""

    @property
    def python_twin(self):
        twin = self.__dict__.get("_twin")
        if twin is None:
            with self._twin_lock:
                twin = self.__dict__.get("_twin")
                if twin is None:
                    twin = self._twin = njit(_renamed_copy(self.py_func, "_python"),
                                             **self._twin_options)
        return twin

    def __call__(self, *args, **kwargs):
        return self.python_twin(*args, **kwargs)


def _renamed_copy(f, suffix):
    copy = types.FunctionType(f.__code__, f.__globals__, f.__name__ + suffix, f.__defaults__,
                              f.__closure__)
    copy.__qualname__ = f.__qualname__ + suffix
    copy.__module__ = f.__module__
    copy.__doc__ = f.__doc__
    copy.__kwdefaults__ = f.__kwdefaults__
    return copy
