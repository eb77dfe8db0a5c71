"""A model whose own code calls ``sys.exit()`` or raises ``KeyboardInterrupt``: in its
predict, the request gets a JSON 500 with its request id and the server keeps serving,
batching on and off (with batching on, a KeyboardInterrupt once stopped the server); on
import, the model fails to load like any broken model (it once stopped the server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from e2e.conftest import Server

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
EXIT_ON_IMPORT = b"import sys\nsys.exit(0)\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server: the model that exits in its predict twice (its model.yaml turns batching
    on for one, off for the other), one whose file exits on import, and code uploads."""
    root = tmp_path_factory.mktemp("model-exit")
    models = root / "models"
    for name, batching in (("exiter-batched", "true"), ("exiter-alone", "false")):
        (models / name / "1").mkdir(parents=True)
        (models / name / "1" / "model.py").write_text(EXITER)
        (models / name / "model.yaml").write_text(f"batching: {{enabled: {batching}}}\n")
    (models / "exits" / "1").mkdir(parents=True)
    (models / "exits" / "1" / "model.py").write_text(EXIT_ON_IMPORT.decode())
    started = Server([str(models), "--allow-pickle-uploads"], cwd=root)
    try:
        started.wait_ready()  # a model file that exits on import once stopped the server
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("model", ["exiter-batched", "exiter-alone"])
def test_a_model_that_exits_fails_its_request_only(server: Server, model: str) -> None:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        for value in (1000, -1000):
            answer = http.post(f"/v1/models/{model}:predict", json={"instances": [[value]]})
            assert answer.status_code == 500, answer.text
            assert answer.json()["error"] == "internal_error"
            assert answer.headers["x-request-id"] in answer.json()["message"]
        again = http.post(f"/v1/models/{model}:predict", json={"instances": [[2]]})
        assert again.json()["predictions"] == [2.0]
    assert server.process.poll() is None
    assert "KeyboardInterrupt" in server.log()  # the traceback, under the request id


def test_a_model_file_that_exits_on_import_is_skipped_at_start(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        broken = http.post("/v1/models/exits:predict", json={"instances": [[2]]})
        assert broken.status_code == 503, broken.text
        assert "SystemExit" in broken.json()["message"]
        assert http.post("/v1/models/exiter-alone:predict", json={"instances": [[2]]}).is_success


def test_an_upload_whose_code_exits_on_import_is_refused(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=20, headers=server.admin) as http:
        answer = http.post(
            "/v1/admin/models/uploaded-exits/versions",
            files={"file": ("model.py", EXIT_ON_IMPORT)},
        )
        # Code files are taken only with --allow-pickle-uploads; this one runs on import.
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "model_load_failed"
        assert "SystemExit" in answer.json()["message"]
        assert http.get("/health/ready").status_code == 200
