"""README.md's generated pieces (docs/make_readme.py): every marker is
closed and named by a piece of the script, so `python docs/make_readme.py`
regenerates all of them; the replacement and the --check masking work."""
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "docs" / "make_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_marker_is_closed_and_generated():
    mk = _script()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    opened = re.findall(r"<!-- make_readme: ([\w-]+) -->", text)
    names = [m.group(2) for m in mk.MARK.finditer(text)]
    assert opened == names and text.count("<!-- /make_readme -->") == len(names)
    source = (ROOT / "docs" / "make_readme.py").read_text(encoding="utf-8")
    generated = set(re.findall(r'out\["([\w-]+)"\]', source)) | set(mk.SNIPPETS)
    assert set(names) - {"NAME"} == generated      # NAME: the marker in the instructions


def test_fill_replaces_only_named_blocks_and_check_ignores_timings():
    mk = _script()
    text = "a <!-- make_readme: x -->old<!-- /make_readme --> b <!-- make_readme: y -->keep<!-- /make_readme -->"
    assert mk.fill(text, {"x": "new"}) == text.replace("old", "new")
    assert mk.masked("in 9.1 s (86.3 M/s), 1.83x, 321 MiB") == mk.masked("in 29 s (27.5 M/s), 2.01x, 400 MiB")
    assert mk.masked("9,000 yuan") != mk.masked("9,001 yuan")
    # a fresh clone compiles the kernels where the README's run loaded them
    loaded = ("simengine: default: running 64 paths ...\n"
              "simengine: 64 paths in 0.1 s (+ 0.1 s loading the compiled kernels)\n")
    compiled = ("simengine: default: running 64 paths ...\n"
                "simengine: default: compiling (first run only) ...\n"
                "simengine: 64 paths in 0.2 s (+ 21 s compiling the kernels)\n")
    assert mk.masked(loaded) == mk.masked(compiled)
    assert mk.masked(loaded) != mk.masked(loaded.replace("64 paths in", "65 paths in"))
