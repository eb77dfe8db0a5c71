"""No project-internal words (a seed's number, an issue number, DESIGN.md, a commit hash)
in what a user sees beyond the docs pages: the examples they copy, the Makefile they run,
and every string of the package (API messages, model descriptions, the files
``train-examples`` writes, docstrings shown by ``help()``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .blocks import ROOT, internal_words

PACKAGE = ROOT / "src" / "modelport"
#: Generated code and vendored files: not written by this project's hand.
_SKIPPED_PACKAGE_PARTS = ("proto", "web")
_TEXT_ENDINGS = {".md", ".py", ".yaml", ".yml", ".toml", ".html", ".txt", ".cfg", ".json"}


def _example_files() -> list[Path]:
    return sorted(
        path
        for path in (ROOT / "examples").rglob("*")
        if path.is_file() and path.suffix in _TEXT_ENDINGS and "__pycache__" not in path.parts
    )


def _package_files() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if not any(part in _SKIPPED_PACKAGE_PARTS for part in path.relative_to(PACKAGE).parts)
    )


@pytest.mark.parametrize(
    "path", [*_example_files(), ROOT / "Makefile"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_examples_and_makefile(path: Path) -> None:
    found = internal_words(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.name}:{n}: {what}: {line}" for n, what, line in found)


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_packages_strings(path: Path) -> None:
    """Every string literal, docstrings included (comments are not shown to users)."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for offset, what, line in internal_words(node.value):
                problems.append(f"{path.name}:{node.lineno + offset - 1}: {what}: {line}")
    assert not problems, "\n".join(problems)
