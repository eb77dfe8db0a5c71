"""A model whose own code calls ``sys.exit()`` or raises ``KeyboardInterrupt``: in its
predict, the request gets a JSON 500 with its request id and the server keeps serving,
batching on and off (with batching on, a KeyboardInterrupt once stopped the server); on
import, the model fails to load like any broken model (it once stopped the server)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from e2e.conftest import StartServer

pytestmark = pytest.mark.e2e

EXITER = """\
import sys


def predict(x: float) -> float:
    if x > 100:
        sys.exit(3)
    if x < -100:
        raise KeyboardInterrupt
    return x
"""


@pytest.mark.parametrize("batching", ["--batching", "--no-batching"])
def test_a_model_that_exits_fails_its_request_only(
    start_server: StartServer, tmp_path: Path, batching: str
) -> None:
    models = tmp_path / "models"
    (models / "exiter" / "1").mkdir(parents=True)
    (models / "exiter" / "1" / "model.py").write_text(EXITER)
    server = start_server([str(models), batching])
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=20) as http:
        for value in (1000, -1000):
            answer = http.post("/v1/models/exiter:predict", json={"instances": [[value]]})
            assert answer.status_code == 500, answer.text
            assert answer.json()["error"] == "internal_error"
            assert answer.headers["x-request-id"] in answer.json()["message"]
        again = http.post("/v1/models/exiter:predict", json={"instances": [[2]]})
        assert again.json()["predictions"] == [2.0]
    assert server.process.poll() is None
    assert "KeyboardInterrupt" in server.log()  # the traceback, under the request id


def test_a_model_file_that_exits_on_import_is_skipped_at_start(
    start_server: StartServer, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    (models / "exits" / "1").mkdir(parents=True)
    (models / "exits" / "1" / "model.py").write_text("import sys\nsys.exit(0)\n")
    (models / "echo" / "1").mkdir(parents=True)
    (models / "echo" / "1" / "model.py").write_text(EXITER)
    server = start_server([str(models)])
    server.wait_ready()  # it once stopped the server, exit status 0
    with httpx.Client(base_url=server.url, timeout=20) as http:
        assert http.post("/v1/models/echo:predict", json={"instances": [[2]]}).is_success
        broken = http.post("/v1/models/exits:predict", json={"instances": [[2]]})
        assert broken.status_code == 503, broken.text
        assert "SystemExit" in broken.json()["message"]


def test_an_upload_whose_code_exits_on_import_is_refused(
    start_server: StartServer, tmp_path: Path
) -> None:
    (tmp_path / "models").mkdir()
    server = start_server([str(tmp_path / "models"), "--allow-pickle-uploads"])
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=20, headers=server.admin) as http:
        answer = http.post(
            "/v1/admin/models/exits/versions",
            files={"file": ("model.py", b"import sys\nsys.exit(0)\n")},
        )
        # Code files are taken only with --allow-pickle-uploads; this one runs on import.
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "model_load_failed"
        assert "SystemExit" in answer.json()["message"]
        assert http.get("/health/ready").status_code == 200
