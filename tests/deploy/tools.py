"""Where the deployment files and the offline validators are, and how to run them.

The validators (kubernetes-validate, hadolint, the Helm SDK) are not in the project's
venv: ``make deploy-check`` installs them into ``build/deploy-venv`` from
``deploy/requirements-check.txt``. Without that venv the tests that need them skip, unless
``MODELPORT_DEPLOY_CHECK=1`` (set by ``make deploy-check``): then they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from modelport.config import Settings, load_settings

__all__ = [
    "DEPLOY",
    "DEPLOY_VENV",
    "REQUIRE_ENV",
    "ROOT",
    "hadolint",
    "helm",
    "kubernetes_validate",
    "load_all",
    "load_one",
    "settings_from_env",
    "tool",
]

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
DEPLOY_VENV = ROOT / "build" / "deploy-venv"
REQUIRE_ENV = "MODELPORT_DEPLOY_CHECK"
HELM_SCRIPT = Path(__file__).with_name("helm_tool.py")
TOOL_TIMEOUT_S = 120


def _missing(what: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(
            f"{what} is missing from {DEPLOY_VENV} ({REQUIRE_ENV}=1): "
            "make deploy-check installs it from deploy/requirements-check.txt",
            pytrace=False,
        )
    pytest.skip(f"{what} not installed in {DEPLOY_VENV}: run `make deploy-check`")


def tool(name: str) -> Path:
    """The validator ``name`` from the deploy venv (skip or fail when it is not there)."""
    path = DEPLOY_VENV / "bin" / name
    if not os.access(path, os.X_OK):
        _missing(name)
    return path


def run(command: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
    )


def kubernetes_validate(documents: list[dict[str, Any]], workdir: Path) -> str:
    """Validate Kubernetes objects with ``kubernetes-validate --strict``; its output.

    Fails the test when any object does not validate, or has no schema to validate with."""
    assert documents, "nothing to validate"
    files = []
    for number, document in enumerate(documents):
        path = workdir / f"object-{number}-{document['kind'].lower()}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        files.append(str(path))
    done = run([str(tool("kubernetes-validate")), "--strict", *files])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Couldn't find schema" not in output, output
    assert output.count("INFO") == len(files), output  # one "validated" line a file
    return output


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return run([str(tool("hadolint")), "--no-color", str(dockerfile)])


def helm(*request: Any) -> Any:
    """Run one request of helm_tool.py (lint or render) under the deploy venv's Python."""
    python = tool("python")
    done = run([str(python), str(HELM_SCRIPT)], stdin=json.dumps(list(request)))
    if done.returncode == 3:
        _missing("helm-python-sdk")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def load_all(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of a file (empty ones left out)."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def load_one(path: Path) -> dict[str, Any]:
    documents = load_all(path)
    assert len(documents) == 1, f"{path}: {len(documents)} documents"
    return documents[0]


def settings_from_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cwd: Path) -> Settings:
    """modelport's Settings from exactly the MODELPORT_* variables of ``env``, as the server
    would build them (an unknown name or a bad value fails the test)."""
    fields = set(Settings.model_fields)
    for key in list(os.environ):
        if key.startswith("MODELPORT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(cwd)  # no modelport.toml of the checkout's is read
    for key, value in env.items():
        if key.startswith("MODELPORT_"):
            assert key.removeprefix("MODELPORT_").lower() in fields, f"{key} is no setting"
            monkeypatch.setenv(key, value)
    return load_settings()
