"""A model that is one bare file in the model folder, seen by its users and operators."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from .conftest import StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-secret-for-tests"
ROW = {"instances": [[6.7, 3.0, 5.2, 2.3]]}


def test_a_bare_file_is_served_without_its_ending_and_keeps_its_old_name(
    start_server: StartServer, trained_models: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(trained_models / "iris-lr" / "1" / "model.joblib", models / "lr_iris.joblib")
    server = start_server([str(models), "--admin-token", ADMIN, "--allow-pickle-uploads"])
    server.wait_ready()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert [m["name"] for m in http.get("/v1/models").json()["models"]] == ["lr_iris"]
        for name in ("lr_iris", "lr_iris.joblib"):
            answer = http.post(f"/v1/models/{name}:predict", json=ROW)
            assert (answer.status_code, answer.json()["model_name"]) == (200, "lr_iris")

        # An alias set through the old name is the model's alias.
        moved = http.put(
            "/v1/admin/models/lr_iris.joblib/aliases/production", json={"version": 1}, headers=auth
        )
        assert moved.json() == {"name": "lr_iris", "alias": "production", "version": 1}
        answer = http.post("/v1/models/lr_iris/versions/production:predict", json=ROW)
        assert answer.status_code == 200, answer.text

        # A new version needs a folder; the answer says where the file goes.
        refused = http.post(
            "/v1/admin/models/lr_iris/versions",
            params={"filename": "model.joblib"},
            content=(models / "lr_iris.joblib").read_bytes(),
            headers=auth,
        )
        assert refused.status_code == 409, refused.text
        assert "move it to lr_iris/1/lr_iris.joblib" in refused.json()["message"]
        assert not (models / "lr_iris").exists()
