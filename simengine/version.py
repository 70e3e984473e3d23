"""The engine's version, written into every output's metadata and manifest.
A module of its own so that the modules that write outputs need not import
the package's `__init__` (which imports them)."""
__version__ = "0.1.0"
