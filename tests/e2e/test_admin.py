"""The management API against the real server, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from modelport.db import make_engine, store

from .conftest import StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-secret-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def artifact(trained: Path, name: str) -> bytes:
    return (trained / name / "1" / "model.joblib").read_bytes()


def upload(http: httpx.Client, name: str, data: bytes, **params: Any) -> httpx.Response:
    return http.post(
        f"/v1/admin/models/{name}/versions",
        params={"filename": "model.joblib", **params},
        content=data,
    )


def predict_version(http: httpx.Client, name: str, version: str | None = None) -> Any:
    path = f"/v1/models/{name}" + (f"/versions/{version}" if version else "") + ":predict"
    response = http.post(path, json=ROWS)
    assert response.status_code == 200, response.text
    return response.json()["model_version"]


def test_lifecycle(
    start_server: StartServer,
    model_dir: Path,
    trained_models: Path,
    database_url: str,
    db: Engine,
) -> None:
    """Upload, alias, rollback, a broken upload, delete, unload and load, on one backend."""
    # It uploads joblib files, which only --allow-pickle-uploads accepts.
    args = [str(model_dir), "--database-url", database_url, "--allow-pickle-uploads"]
    server = start_server([*args, "--admin-token", ADMIN])
    server.wait_ready()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http:
        history = http.get("/v1/admin/models/iris-lr/versions").json()
        assert [(v["version"], v["state"], v["source"]) for v in history["versions"]] == [
            (1, "ready", "disk")
        ]

        # v2 (the decision tree's artifact under iris-lr's name), aliased as production
        data = artifact(trained_models, "iris-dt")
        created = upload(http, "iris-lr", data, alias="production")
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["version"] == 2 and body["state"] == "ready"
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["size"] == len(data) and body["load_seconds"] > 0
        assert predict_version(http, "iris-lr") == 2
        assert predict_version(http, "iris-lr", "production") == 2

        # rollback: move production back to v1
        moved = http.put("/v1/admin/models/iris-lr/aliases/production", json={"version": 1})
        assert moved.status_code == 200, moved.text
        assert predict_version(http, "iris-lr", "production") == 1
        v2 = http.post("/v2/models/iris-lr/versions/production/infer", json=_v2_request())
        assert v2.status_code == 200 and v2.json()["model_version"] == "1"
        assert predict_version(http, "iris-lr") == 2  # latest is still the newest ready

        # a truncated pickle (multipart this time): 422, kept as failed, v2 still answers
        broken = http.post(
            "/v1/admin/models/iris-lr/versions",
            files={"file": ("model.joblib", data[: len(data) // 2])},
        )
        assert broken.status_code == 422, broken.text
        assert broken.json()["error"] == "model_load_failed"
        assert "version 3" in broken.json()["message"]
        assert predict_version(http, "iris-lr") == 2
        assert (model_dir / "iris-lr" / "3").is_dir()
        states = {
            v["version"]: v["state"]
            for v in http.get("/v1/admin/models/iris-lr/versions").json()["versions"]
        }
        assert states == {1: "ready", 2: "ready", 3: "failed"}

        # delete: refused while aliased, then done
        refused = http.delete("/v1/admin/models/iris-lr/versions/1")
        assert refused.status_code == 409 and "production" in refused.json()["message"]
        assert http.delete("/v1/admin/models/iris-lr/aliases/production").status_code == 200
        assert http.delete("/v1/admin/models/iris-lr/versions/1").status_code == 200
        assert not (model_dir / "iris-lr" / "1").exists()
        gone = http.post("/v1/models/iris-lr/versions/1:predict", json=ROWS)
        assert gone.status_code == 404
        assert predict_version(http, "iris-lr") == 2

        # unload, then load again
        assert http.post("/v1/admin/models/iris-dt/unload").status_code == 200
        assert http.post("/v1/models/iris-dt:predict", json=ROWS).status_code == 404
        assert http.post("/v1/admin/models/iris-dt/load").status_code == 200
        assert predict_version(http, "iris-dt") == 1

        # reload all: a folder removed behind the server's back is dropped
        shutil.rmtree(model_dir / "iris-dt")
        report = http.post("/v1/admin/reload")
        assert report.status_code == 200 and report.json()["models"]["iris-dt"] == "dropped"
        assert http.post("/v1/models/iris-dt:predict", json=ROWS).status_code == 404

    # The database agrees with the files and recorded every action.
    versions = {
        v.version: v.state for v in store.list_versions(db, "iris-lr", include_deleted=True)
    }
    assert versions == {1: "deleted", 2: "ready", 3: "failed"}
    actions = [(a.action, a.outcome) for a in reversed(store.list_audit(db, limit=100))]
    assert actions == [
        ("upload", "ok"),
        ("alias.set", "ok"),
        ("upload", "failed"),
        ("alias.delete", "ok"),
        ("version.delete", "ok"),
        ("unload", "ok"),
        ("load", "ok"),
        ("reload", "ok"),
    ]
    assert {a.actor for a in store.list_audit(db)} == {"admin-token"}
    assert all(a.client_address == "127.0.0.1" for a in store.list_audit(db))


def _v2_request() -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
        ]
    }


def test_a_database_that_is_down_does_not_stop_serving(
    start_server: StartServer, model_dir: Path
) -> None:
    from services import free_port

    url = f"mysql+pymysql://root@127.0.0.1:{free_port()}/nothing"
    # Without --database-optional an unreachable database stops the start (exit 2).
    server = start_server([str(model_dir), "--database-url", url, "--database-optional"])
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        assert predict_version(http, "iris-lr") == 1
        history = http.get("/v1/admin/models/iris-lr/versions", headers=server.admin)
        assert history.status_code == 503, history.text
        assert history.json()["error"] == "database_unavailable"
        assert predict_version(http, "iris-lr") == 1
    assert "the database is unavailable" in server.log()
