"""tools/audit.py (``make audit``): which vulnerabilities fail CI, and an unreachable
database that does not."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "audit.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("modelport_audit_tool", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def report(*deps: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(deps), "fixes": []}


def dep(name: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "version": "1.0", "vulns": list(vulns)}


def vuln(fixed: list[str]) -> dict[str, Any]:
    return {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "fix_versions": fixed}


def test_runtime_dependencies_are_the_core_and_runtime_extras_transitively() -> None:
    runtime = tool.runtime_packages()
    # core, transitive (fastapi -> starlette), runtime extras, an extra's own extra
    # (psycopg[binary]), and XGBoost as the dev install names it
    for name in ("numpy", "uvicorn", "fastapi", "starlette", "scikit-learn", "psycopg-binary"):
        assert name in runtime
    assert "xgboost-cpu" in runtime
    for name in ("pytest", "mypy", "ruff", "pip-audit", "httpx", "modelport"):
        assert name not in runtime


@pytest.mark.parametrize(
    ("package", "fixed", "status"),
    [
        pytest.param("numpy", ["2.0"], 1, id="runtime-fixable-fails"),
        pytest.param("numpy", [], 0, id="runtime-unfixed-reported"),
        pytest.param("pytest", ["9.0"], 0, id="dev-only-reported"),
    ],
)
def test_only_a_fixable_vulnerability_in_a_runtime_dependency_fails(
    package: str, fixed: list[str], status: int
) -> None:
    code, lines = tool.audit(report(dep(package, vuln(fixed)), dep("orjson")), {"numpy"})
    assert code == status
    text = "\n".join(lines)
    assert f"{package} 1.0" in text and "CVE-0000-1" in text  # reported either way
    assert ("FAILED" in text) == (status == 1)


def test_dependencies_the_database_did_not_know_are_reported_as_not_audited() -> None:
    skipped = {"name": "numpy", "skip_reason": "Dependency not found on PyPI"}
    code, lines = tool.audit(report(skipped, dep("orjson")), {"numpy", "orjson"})
    assert code == 0
    assert any("NOT AUDITED" in line and "numpy" in line for line in lines)


def test_an_unreachable_database_is_reported_and_does_not_fail() -> None:
    # A proxy that refuses connections stands in for a network hiccup.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NOT AUDITED" in done.stdout


@pytest.mark.parametrize(
    ("stderr", "status"),
    [
        ("requests.exceptions.ConnectionError: Max retries exceeded", 0),
        ("pip_audit._service.interface.ServiceError: 503", 0),
        ("Traceback ...\nKeyError: 'vulns'", 2),
    ],
)
def test_a_failed_run_is_an_outage_or_a_broken_tool(
    monkeypatch: pytest.MonkeyPatch, stderr: str, status: int
) -> None:
    monkeypatch.setattr(tool, "run_pip_audit", lambda: (None, stderr))
    assert tool.main() == status
