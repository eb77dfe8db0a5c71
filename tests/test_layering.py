"""Imports flow one way (DESIGN.md): api/ and cli/ alone know the web stack, and the
core (protocols/ included) never imports the HTTP layer; api/ holds only HTTP and gRPC
glue. Checked by reading every module's imports."""

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


@pytest.mark.parametrize("name", ["errors.py", "types.py", "contracts.py"], ids=lambda n: n)
def test_leaf_modules_import_nothing_above_them(name: str) -> None:
    for module in imported_modules(PACKAGE / name):
        assert not module.startswith("modelport"), f"{name} imports {module}"


def test_the_scan_finds_the_core() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in core_modules()}
    assert {"registry.py", "inputs.py", "inference.py", "runtimes/sklearn.py"} <= names
    assert {"protocols/envelopes.py", "protocols/v2_codec.py", "protocols/v2_dataplane.py"} <= names
    assert "contracts.py" in names  # the answers' types, shared with api/


#: api/ modules that need no web stack and are glue all the same: the OpenAPI shapes of
#: the HTTP bodies.
_API_WITHOUT_WEB_STACK = {"schemas.py"}


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (PACKAGE / "api").glob("*.py") if p.name not in _API_WITHOUT_WEB_STACK),
    ids=lambda p: p.name,
)
def test_api_holds_only_web_glue(path: Path) -> None:
    """Framework-free code belongs to the core (protocols/, ...), where every protocol
    and transport can share it: each api/ module uses the web stack, itself or through
    another api/ module."""
    modules = imported_modules(path)
    assert any(
        m.partition(".")[0] in WEB_STACK or m.startswith("modelport.api") for m in modules
    ), f"api/{path.name} uses no web stack: move it to the core (e.g. protocols/)"
