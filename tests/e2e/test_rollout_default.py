"""Which version answers by default: an upload with ``--alias staging`` does not go live
while the model's policy is ``default: production``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from databases import empty_database

from .conftest import MODELPORT, Server

pytestmark = pytest.mark.e2e

ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)],
)
def server(
    request: pytest.FixtureRequest, trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """iris-lr answers with its alias production (model.yaml); iris-dt keeps the newest."""
    root = tmp_path_factory.mktemp("rollout-default")
    shutil.copytree(trained_models, root / "models")
    yaml = root / "models" / "iris-lr" / "model.yaml"
    yaml.write_text(yaml.read_text() + "default: production\n")
    for url in empty_database(request.param, tmp_path_factory):
        started = Server(
            [str(root / "models"), "--database-url", url, "--allow-pickle-uploads"], root
        )
        try:
            started.wait_ready()
            yield started
        finally:
            started.stop()


def predict(server: Server, name: str, version: str | None = None) -> httpx.Response:
    path = name if version is None else f"{name}/versions/{version}"
    return httpx.post(f"{server.url}/v1/models/{path}:predict", json=ROWS, timeout=30)


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MODELPORT), *args, "--url", server.url, "--token", server.admin_token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_upload_to_staging_does_not_answer_while_production_is_the_default(
    server: Server, trained_models: Path
) -> None:
    # No production alias yet: a clear 503, never the newest version in its place.
    refused = predict(server, "iris-lr")
    assert refused.status_code == 503, refused.text
    assert "alias 'production'" in refused.json()["message"]
    assert "modelport alias set iris-lr production" in refused.json()["message"]

    moved = httpx.put(
        f"{server.url}/v1/admin/models/iris-lr/aliases/production",
        json={"version": 1},
        headers=server.admin,
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    assert predict(server, "iris-lr").json()["model_version"] == 1

    artifact = trained_models / "iris-dt" / "1" / "model.joblib"
    uploaded = cli(server, "upload", str(artifact), "--model", "iris-lr", "--alias", "staging")
    assert uploaded.returncode == 0, uploaded.stderr
    assert "staging -> 2" in uploaded.stdout

    assert predict(server, "iris-lr").json()["model_version"] == 1
    assert predict(server, "iris-lr", "staging").json()["model_version"] == 2
    assert predict(server, "iris-lr", "latest").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["latest_version"] == 2
    assert meta["default"] == {"policy": "production", "source": "model.yaml", "version": 1}

    # Promotion is the alias move, and only that.
    httpx.put(
        f"{server.url}/v1/admin/models/iris-lr/aliases/production",
        json={"version": 2},
        headers=server.admin,
        timeout=30,
    ).raise_for_status()
    assert predict(server, "iris-lr").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-lr", timeout=30).json()
    assert meta["default"]["version"] == 2


def test_a_model_without_a_policy_keeps_answering_with_its_newest_version(
    server: Server, trained_models: Path
) -> None:
    artifact = trained_models / "iris-lr" / "1" / "model.joblib"
    uploaded = cli(server, "upload", str(artifact), "--model", "iris-dt", "--alias", "staging")
    assert uploaded.returncode == 0, uploaded.stderr
    assert predict(server, "iris-dt").json()["model_version"] == 2
    meta = httpx.get(f"{server.url}/v1/models/iris-dt", timeout=30).json()
    assert meta["default"] == {"policy": "latest", "source": "server", "version": 2}


def test_a_bad_policy_in_model_yaml_is_named(server: Server, tmp_path: Path) -> None:
    folder = Path(server.args[0]) / "iris-bad"
    shutil.copytree(Path(server.args[0]) / "iris-lr" / "1", folder / "1")
    (folder / "model.yaml").write_text("default: Production!\n")
    loaded = httpx.post(
        f"{server.url}/v1/admin/models/iris-bad/load", headers=server.admin, timeout=60
    )
    assert loaded.status_code in (422, 500), loaded.text
    assert "default" in loaded.json()["message"]
    assert "'latest', a version number or an alias" in loaded.json()["message"]
