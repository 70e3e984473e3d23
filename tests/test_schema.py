"""Column names live in one place, simengine/schema.py: the tables a run
writes, the report's column checks and the README's column tables all agree
with it. `python tests/test_schema.py` rewrites the README's column tables
from the schema."""
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from simengine import report, schema
from simengine.report import runs

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- columns: (\w+) -->\n(.*?)<!-- /columns -->\n", re.S)


def readme_block(spec) -> str:
    """The README's column table of one table, made from the schema."""
    lines = [f"`{spec.name}.arrow`, one row per {spec.row}:", "",
             "| column | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.type} | {_meaning(c)} |" for c in spec.columns]
    return "\n".join(lines) + "\n"


def _meaning(c) -> str:
    return c.meaning + (f" (only when {c.when})" if c.when else "")


def readme_blocks(text) -> dict:
    return {m.group(1): m.group(2) for m in BLOCK.finditer(text)}


def _rows(block):
    """(name, type, meaning) of each row of a README column table."""
    out = []
    for line in block.splitlines():
        m = re.fullmatch(r"\| `([^`]+)` \| (\w+) \| (.*) \|", line)
        if m:
            out.append(m.groups())
    return out


def test_readme_column_tables_agree_with_the_schema():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert sorted(blocks) == sorted(t.name for t in schema.TABLES), (
        "README.md needs one <!-- columns: NAME --> block per table; "
        "python tests/test_schema.py writes them")
    for spec in schema.TABLES:
        assert _rows(blocks[spec.name]) == [(c.name, c.type, _meaning(c)) for c in spec.columns], \
            f"README.md columns of {spec.name} differ from schema.py: python tests/test_schema.py"
        assert blocks[spec.name] == readme_block(spec)


def test_readme_names_every_summary_metric_and_statistic():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Output files"):text.index("## Reading the results")]
    for name in schema.SUMMARY_METRICS + ("cheapest", "regret"):
        assert f"`{name}`" in section, name


def test_report_reads_only_schema_columns():
    for name, cols in runs.REPORT_COLUMNS.items():
        assert set(cols) <= set(schema.BY_NAME[name].names), name


def test_schemas_types_and_kernel_records():
    arrow = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    for spec in schema.TABLES:
        s = spec.arrow_schema({"table": spec.name}, present=spec.names)
        assert s.names == list(spec.names) and len(set(s.names)) == len(s.names)
        assert [f.type for f in s] == [arrow[c.type] for c in spec.columns]
        always = spec.arrow_schema()              # columns only some runs have are left out
        assert always.names == [c.name for c in spec.columns if not c.when]
        assert s.metadata == {b"table": spec.name.encode()}
        rec = spec.kernel_dtype()
        assert rec.names == tuple(c.name for c in spec.kernel_columns)
        assert all(rec[c.name] == np.dtype(c.type) for c in spec.kernel_columns)
    with pytest.raises(KeyError):
        schema.PATHS.column("no-such-column")


def test_run_files_follow_the_schema():
    assert report.FILES == tuple(f"{t.name}.arrow" for t in schema.TABLES) + ("manifest.json",)
    assert report.run_files("parquet")[0] == "paths.parquet"


def write_readme():
    text = README.read_text(encoding="utf-8")
    for spec in schema.TABLES:
        text = re.sub(rf"(<!-- columns: {spec.name} -->\n).*?(<!-- /columns -->\n)",
                      lambda m, spec=spec: m.group(1) + readme_block(spec) + m.group(2),
                      text, flags=re.S)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_readme()
    sys.exit(0)
