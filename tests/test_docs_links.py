"""The README and docs/*.md link only inside the repository: the model is
docs/model.md, not a file beside the checkout, and every relative link (and
every #anchor into a markdown page) points to something that exists, so a
user who clones the project can follow every one."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = set()
PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").glob("*.md")
                                      if p.name not in EXCLUDED)
IDS = [str(p.relative_to(ROOT)) for p in PAGES]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
# [text](target) and ![alt](target), an optional "title" after the target
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The page without code blocks, inline code and HTML comments, where a
    bracket is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", COMMENT.sub("", text)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (markup dropped, a link's
    text kept), lower case, punctuation removed, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    seen, out = {}, set()
    for _, text in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(text)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_slug_follows_github():
    assert slug("7. Outputs") == "7-outputs"
    assert slug("12a. Calibration") == "12a-calibration"
    assert slug("Random numbers (`simengine/rng.py`)") == "random-numbers-simenginerngpy"
    assert slug("What should we do? `simengine optimize`") == "what-should-we-do-simengine-optimize"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_reference_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for bad in ("../shared", "SPEC.md"):
        assert bad not in text, f"{page.name} mentions {bad}: link docs/model.md instead"
    spec = [m.group(0) for m in re.finditer(r"\bSPEC\b[^\n]{0,20}", text)]
    assert not spec, f"{page.name} refers to SPEC ({spec[:3]}): refer to docs/model.md instead"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_relative_links_resolve(page):
    problems = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):     # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no such file {dest.relative_to(ROOT)}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading with anchor #{anchor} in "
                            f"{dest.relative_to(ROOT)}")
    assert not problems, f"{page.name}: " + "; ".join(problems)


def test_every_model_section_has_its_number():
    """Code and docs cite "docs/model.md, section N": each N has a heading."""
    found = anchors(ROOT / "docs" / "model.md")
    numbers = [str(n) for n in range(1, 14)] + ["12a"]
    missing = [n for n in numbers if not any(a.startswith(f"{n}-") for a in found)]
    assert not missing, f"docs/model.md lacks sections {missing}"
