"""The README and the docs: short README, no project-internal words, links that resolve,
and well-formed run markers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .blocks import ROOT, documents, find_blocks, internal_words

README = ROOT / "README.md"
PAGES = [README, ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move detail into docs/"


def test_the_readme_says_what_the_defaults_allow() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "docs/security.md" in text
    assert "SECURITY.md" in text
    assert "nothing listens beyond 127.0.0.1" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_project_internal_words(page: Path) -> None:
    found = internal_words(page.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{page.name}:{n}: {what}: {line}" for n, what, line in found)


@pytest.mark.parametrize("page", [README, ROOT / "bench" / "README.md"], ids=lambda p: p.name)
def test_links_outside_the_site_resolve(page: Path) -> None:
    """MkDocs checks the site's links; these files are read on the repository's web page."""
    for match in _LINK.finditer(page.read_text(encoding="utf-8")):
        target = match["target"]
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name} links to {target}, which does not exist"


def test_markers_are_well_formed() -> None:
    """Every run/file marker is followed by a block of a language the test can run."""
    blocks = [block for path in documents() for block in find_blocks(path)]
    assert any(block.kind == "run" for block in blocks)
    for block in blocks:
        if block.kind == "file":
            assert block.target and not block.target.startswith(("/", "..")), block.where
