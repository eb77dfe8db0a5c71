"""The V2 gRPC repository extension's RepositoryModelLoad on a model whose code raises
``KeyboardInterrupt`` (or calls ``sys.exit()``) while it is imported: the client gets a
clean gRPC error status naming why, and the server keeps serving (a KeyboardInterrupt once
escaped the RPC's wrapper)."""

from __future__ import annotations

import pickle
from pathlib import Path

import grpc
import httpx
import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from .conftest import StartServer

pytestmark = pytest.mark.e2e

INTERRUPTS = "raise KeyboardInterrupt\n"
EXITS = "import sys\nsys.exit(0)\n"
FINE = "def predict(x: float) -> float:\n    return x * 2\n"
#: Its warm-up prediction, made while loading, raises KeyboardInterrupt.
WARM_UP_INTERRUPTS = "def predict(x: float) -> float:\n    raise KeyboardInterrupt\n"


class _Interrupting:
    """Unpickling it runs ``exec("raise KeyboardInterrupt")``."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("raise KeyboardInterrupt",))


def test_load_of_a_model_that_interrupts_on_import_is_a_clean_grpc_error(
    start_server: StartServer, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    (models / "fine" / "1").mkdir(parents=True)
    (models / "fine" / "1" / "model.py").write_text(FINE)
    server = start_server([str(models)])
    server.wait_ready()
    # Put in after the start, so the load through gRPC is the first import of each.
    for name, code in (
        ("interrupts", INTERRUPTS),
        ("exits", EXITS),
        ("warm-up-interrupts", WARM_UP_INTERRUPTS),
    ):
        (models / name / "1").mkdir(parents=True)
        (models / name / "1" / "model.py").write_text(code)
    (models / "unpickle-interrupts" / "1").mkdir(parents=True)
    (models / "unpickle-interrupts" / "1" / "model.pkl").write_bytes(pickle.dumps(_Interrupting()))
    client = triton.InferenceServerClient(server.grpc_target)
    admin = {"authorization": f"Bearer {server.admin_token}"}
    try:
        for name, fragment in (
            ("interrupts", "KeyboardInterrupt"),
            ("exits", "SystemExit"),
            ("warm-up-interrupts", "KeyboardInterrupt"),
            ("unpickle-interrupts", "KeyboardInterrupt"),
        ):
            for _ in range(2):  # and again: the first one did not leave anything behind
                with pytest.raises(InferenceServerException) as caught:
                    client.load_model(name, headers=admin)
                print(name, caught.value.status(), caught.value.message())
                assert caught.value.status() != f"StatusCode.{grpc.StatusCode.UNKNOWN.name}"
                assert fragment in (caught.value.message() or "")
        # The server kept serving, over gRPC and HTTP.
        assert server.process.poll() is None
        assert client.is_server_live()
        assert client.is_model_ready("fine")
        with httpx.Client(base_url=server.url, timeout=20) as http:
            answer = http.post("/v1/models/fine:predict", json={"instances": [[2]]})
            assert answer.json()["predictions"] == [4.0], answer.text
    finally:
        client.close()
    assert "unhandled error in gRPC" not in server.log()
