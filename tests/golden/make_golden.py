"""Regenerate the golden tables that pin the engine's numbers.

    python tests/golden/make_golden.py

Run it only when a rule changes on purpose, and commit the new files in the
same commit as the rule change, saying why the numbers moved. Each case is a
scenario file beside this script; its tables are written to `<case>/`.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_cases import CASES, golden_tables  # noqa: E402

import pyarrow.ipc as ipc  # noqa: E402


def main(names=None):
    for name in names or sorted(CASES):
        out = HERE / name
        out.mkdir(exist_ok=True)
        for table_name, table in golden_tables(name).items():
            with ipc.new_file(out / f"{table_name}.arrow", table.schema) as w:
                w.write_table(table)
        print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
