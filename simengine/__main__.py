"""`python -m simengine ...` is the `simengine` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
