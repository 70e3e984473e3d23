"""Numbers change only on purpose: every table of the golden cases
(tests/golden_cases.py) must equal the pinned files bit for bit. A rule
change regenerates them (tests/golden/make_golden.py) in the same commit
that explains why."""
import numpy as np
import pyarrow.ipc as ipc
import pytest

from golden_cases import CASES, HERE, TABLES, golden_tables


def _read(path):
    with ipc.open_file(path) as r:
        return r.read_all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_tables_equal_golden_files(case):
    got = golden_tables(case)
    for name in TABLES:
        want = _read(HERE / case / f"{name}.arrow")
        have = got[name]
        assert have.schema.names == want.schema.names, (case, name)
        for col in want.schema.names:
            a, b = have.column(col), want.column(col)
            assert a.type == b.type, (case, name, col)
            # NaN equals NaN here (a statistic that cannot be computed)
            np.testing.assert_array_equal(a.to_numpy(zero_copy_only=False),
                                          b.to_numpy(zero_copy_only=False),
                                          err_msg=f"{case} {name} {col}")
