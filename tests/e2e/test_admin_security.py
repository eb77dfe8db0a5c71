"""Who may manage models: tokens, the API token, names and sizes."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import MODELPORT, Server, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-secret-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
ROWS = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def test_tokens_401_without_403_wrong_and_database_tokens(
    start_server: StartServer, model_dir: Path, tmp_path: Path, trained_models: Path
) -> None:
    server = start_server([str(model_dir), "--admin-token", ADMIN])
    server.wait_ready()
    path = "/v1/admin/models/iris-lr/versions"
    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        missing = http.post(path, params={"filename": "model.joblib"}, content=data)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"] == "unauthorized"
        wrong = http.post(
            path,
            params={"filename": "model.joblib"},
            content=data,
            headers={"Authorization": "Bearer not-the-token"},
        )
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
        assert not (model_dir / "iris-lr" / "2").exists()
        for method, url in (
            ("GET", path),
            ("POST", "/v1/admin/reload"),
            ("POST", "/v1/admin/models/iris-lr/unload"),
            ("POST", "/v2/repository/models/iris-lr/unload"),
            ("DELETE", "/v1/admin/models/iris-lr/versions/1"),
        ):
            assert http.request(method, url).status_code == 401, url
        # predictions stay open: no api_token is set
        assert http.post("/v1/models/iris-lr:predict", json=ROWS).status_code == 200

        # a database token, made by the CLI in the server's database (its cwd's SQLite)
        made = subprocess.run(
            [str(MODELPORT), "tokens", "create", "ci-bot"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        token = made.stdout.strip()
        assert token.startswith("mpt_")
        ok = http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        subprocess.run([str(MODELPORT), "tokens", "revoke", "ci-bot"], cwd=tmp_path, check=True)
        revoked = http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 403


def test_api_token_guards_predictions_not_health(
    start_server: StartServer, model_dir: Path
) -> None:
    server = start_server([str(model_dir)], env={"MODELPORT_API_TOKEN": "api-secret"})
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for url in ("/v1/models/iris-lr:predict", "/v1/models/iris-lr/versions/1:predict"):
            refused = http.post(url, json=ROWS)
            assert refused.status_code == 401, url
            assert refused.json()["error"] == "unauthorized"
        assert http.get("/v1/models").status_code == 401
        wrong = http.post(
            "/v1/models/iris-lr:predict", json=ROWS, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 403
        v2 = http.post("/v2/models/iris-lr/infer", json={"inputs": []})
        assert v2.status_code == 401
        good = {"Authorization": "Bearer api-secret"}
        assert http.post("/v1/models/iris-lr:predict", json=ROWS, headers=good).status_code == 200
        assert http.get("/health/ready").status_code == 200
        assert http.get("/v2/health/live").status_code == 200


@pytest.mark.parametrize(
    ("url", "params", "files"),
    [
        ("/v1/admin/models/..%2Fevil/versions", {"filename": "model.joblib"}, None),
        ("/v1/admin/models/%2Ftmp%2Fevil/versions", {"filename": "model.joblib"}, None),
        ("/v1/admin/models/Evil/versions", {"filename": "model.joblib"}, None),
        ("/v1/admin/models/" + "a" * 200 + "/versions", {"filename": "model.joblib"}, None),
        ("/v1/admin/models/iris-lr/versions", {"filename": "../../evil.joblib"}, None),
        ("/v1/admin/models/iris-lr/versions", {"filename": "/tmp/evil.joblib"}, None),
        ("/v1/admin/models/iris-lr/versions", {"filename": "model.exe"}, None),
        ("/v1/admin/models/iris-lr/versions", {}, None),
        ("/v1/admin/models/iris-lr/versions", {}, {"file": ("../evil.joblib", b"x")}),
        ("/v1/admin/models/iris-lr/versions", {}, {"other": ("model.joblib", b"x")}),
        # A bad alias is refused before the upload, which would otherwise go live.
        ("/v1/admin/models/iris-lr/versions", {"filename": "model.joblib", "alias": "BAD"}, None),
        (
            "/v1/admin/models/iris-lr/versions",
            {"filename": "model.joblib", "alias": "latest"},
            None,
        ),
    ],
)
def test_bad_names_answer_400_and_write_nothing(
    shared_admin_server: tuple[str, Path], url: str, params: dict[str, str], files: object
) -> None:
    base, models = shared_admin_server
    before = sorted(str(p.relative_to(models.parent)) for p in models.parent.rglob("*"))
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        if files is None:
            response = http.post(url, params=params, content=b"not really a model")
        else:
            response = http.post(url, params=params, files=files)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    after = sorted(
        str(p.relative_to(models.parent))
        for p in models.parent.rglob("*")
        if not p.name.startswith("server-") and p.name != "modelport.db"
    )
    assert [p for p in after if "evil" in p] == []
    assert [p for p in after if p not in before and not p.startswith("models/.uploads")] == []


@pytest.fixture(scope="module")
def shared_admin_server(
    trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("admin-server")
    models = root / "models"
    shutil.copytree(trained_models, models)
    server = Server([str(models), "--allow-pickle-uploads", "--admin-token", ADMIN], cwd=root)
    try:
        server.wait_ready()
        yield server.url, models
    finally:
        server.stop()


def test_upload_limit_is_enforced_while_streaming(
    start_server: StartServer, model_dir: Path
) -> None:
    server = start_server([str(model_dir), "--max-upload-size", "100000", "--admin-token", ADMIN])
    server.wait_ready()

    def body() -> Iterator[bytes]:
        for _ in range(50):  # 50 x 10 kB, no Content-Length: only streaming can stop it
            yield b"\0" * 10_000

    response = httpx.post(
        f"{server.url}/v1/admin/models/big/versions",
        params={"filename": "model.joblib"},
        content=body(),
        headers=AUTH,
        timeout=30,
    )
    assert response.status_code == 413
    assert "max_upload_size" in response.json()["message"]
    assert not (model_dir / "big").exists()
    assert list((model_dir / ".uploads").iterdir()) == []
    assert httpx.post(f"{server.url}/v1/models/iris-lr:predict", json=ROWS).status_code == 200


def test_pickle_uploads_are_refused_by_default(
    start_server: StartServer, model_dir: Path, trained_models: Path, tmp_path: Path
) -> None:
    server = start_server([str(model_dir), "--admin-token", ADMIN])
    server.wait_ready()
    data = (trained_models / "iris-dt" / "1" / "model.joblib").read_bytes()
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        for filename in ("model.joblib", "model.pkl", "model.py"):
            response = http.post(
                "/v1/admin/models/iris-lr/versions", params={"filename": filename}, content=data
            )
            assert response.status_code == 403, filename
            assert "allow_pickle_uploads" in response.json()["message"]
        assert not (model_dir / "iris-lr" / "2").exists()
        # an ONNX file is accepted (it fails to load here, as it is not ONNX: 422, not 403)
        onnx = http.post(
            "/v1/admin/models/iris-lr/versions", params={"filename": "m.onnx"}, content=b"x"
        )
        assert onnx.status_code == 422, onnx.text


def test_cli_upload_and_models(
    start_server: StartServer, model_dir: Path, trained_models: Path, tmp_path: Path
) -> None:
    server = start_server([str(model_dir), "--admin-token", ADMIN, "--allow-pickle-uploads"])
    server.wait_ready()
    artifact = trained_models / "iris-dt" / "1" / "model.joblib"
    env = {"MODELPORT_URL": server.url, "MODELPORT_ADMIN_TOKEN": ADMIN, "PATH": "/usr/bin:/bin"}
    uploaded = subprocess.run(
        [str(MODELPORT), "upload", str(artifact), "--model", "iris-lr", "--alias", "production"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert "iris-lr version 2 is ready" in uploaded.stdout
    assert "production -> 2" in uploaded.stdout
    table = subprocess.run(
        [str(MODELPORT), "models"], capture_output=True, text=True, env=env, check=True
    ).stdout
    line = next(row for row in table.splitlines() if row.startswith("iris-lr"))
    assert "production->2" in line and "1, 2" in line
    refused = subprocess.run(
        [str(MODELPORT), "upload", str(artifact), "--model", "iris-lr", "--token", "wrong"],
        capture_output=True,
        text=True,
        env={**env, "MODELPORT_ADMIN_TOKEN": ""},
    )
    assert refused.returncode != 0 and "403" in refused.stderr
