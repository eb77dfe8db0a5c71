"""Imports flow one way (DESIGN.md): api/ and cli/ alone know the web stack, and the
core never imports the HTTP layer. Checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "modelport"
WEB_STACK = ("fastapi", "starlette", "uvicorn", "click", "httpx", "grpc")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def core_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not {"api", "cli"} & set(path.relative_to(PACKAGE).parts)
    ]


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_never_sees_the_web_stack(path: Path) -> None:
    for module in imported_modules(path):
        assert not module.startswith("modelport.api"), f"{path.name} imports {module}"
        assert module.partition(".")[0] not in WEB_STACK, f"{path.name} imports {module}"


@pytest.mark.parametrize("name", ["errors.py", "types.py"], ids=lambda n: n)
def test_leaf_modules_import_nothing_above_them(name: str) -> None:
    for module in imported_modules(PACKAGE / name):
        assert not module.startswith("modelport"), f"{name} imports {module}"


def test_the_scan_finds_the_core() -> None:
    names = {p.name for p in core_modules()}
    assert {"registry.py", "inputs.py", "inference.py", "sklearn.py"} <= names
