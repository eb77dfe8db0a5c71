"""The container image, built from the Dockerfile and run for real with Docker.

``make image-test`` runs it (it sets MODELPORT_IMAGE_TEST=1; other runs skip it): the build
(deploy/image/build.sh: the Docker daemon started when needed, a local Debian base and a
wheelhouse when no registry answers), then the image run with the example models mounted:
setosa over HTTP and gRPC, a user without privileges, HEALTHCHECK healthy, and SIGTERM to
PID 1 ending it with status 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton

from services import free_port

from .tools import ROOT

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(
        os.environ.get("MODELPORT_IMAGE_TEST") != "1",
        reason="builds and runs the image with Docker: `make image-test` runs it",
    ),
]

IMAGE = "modelport:image-test"
BUILD_TIMEOUT_S = 600
HEALTHY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30
ROW = [5.1, 3.5, 1.4, 0.2]


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def image() -> str:
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "deploy" / "image" / "build.sh")],
        env={**os.environ, "IMAGE": IMAGE, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    size = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE))
    print(f"image {IMAGE}: built in {time.monotonic() - started:.0f} s, {size / 2**20:.0f} MiB")
    return IMAGE


@dataclass
class Container:
    id: str
    http: int
    grpc: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def state(self) -> dict[str, object]:
        result: dict[str, object] = json.loads(
            docker("inspect", "--format", "{{json .State}}", self.id)
        )
        return result

    def logs(self) -> str:
        done = subprocess.run(
            ["docker", "logs", self.id], capture_output=True, text=True, timeout=30, check=False
        )
        return (done.stdout + done.stderr)[-4000:]


@pytest.fixture
def container(image: str, model_dir: Path) -> Iterator[Container]:
    http, grpc = free_port(), free_port()
    name = f"modelport-test-{uuid.uuid4().hex[:8]}"
    model_dir.chmod(0o755)
    cid = docker(
        "run", "--detach", "--name", name,
        "--publish", f"127.0.0.1:{http}:8000", "--publish", f"127.0.0.1:{grpc}:8001",
        "--volume", f"{model_dir}:/models:ro",
        image,
    )  # fmt: skip
    try:
        yield Container(cid, http, grpc)
    finally:
        subprocess.run(["docker", "rm", "--force", cid], capture_output=True, timeout=60)


def wait_healthy(container: Container) -> float:
    started = time.monotonic()
    while time.monotonic() - started < HEALTHY_TIMEOUT_S:
        state = container.state()
        assert state["Status"] == "running", f"{state}\n{container.logs()}"
        health = state.get("Health")
        assert isinstance(health, dict), "the image has no HEALTHCHECK"
        if health["Status"] == "healthy":
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"not healthy after {HEALTHY_TIMEOUT_S} s\n{container.logs()}")


def test_the_image_serves_the_mounted_models_and_stops_on_sigterm(container: Container) -> None:
    healthy_after = wait_healthy(container)
    print(f"healthy after {healthy_after:.1f} s")

    # HTTP, through the published port, as the README's curl does it.
    answer = httpx.post(
        f"{container.url}/v1/models/iris-lr:predict", json={"instances": [ROW]}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == ["setosa"]
    # A host name the image was not told about is refused (DNS rebinding).
    foreign = httpx.post(
        f"{container.url}/v1/models/iris-lr:predict",
        json={"instances": [ROW]},
        headers={"Host": "attacker.example"},
        timeout=10,
    )
    assert foreign.status_code == 400

    # The Open Inference Protocol over gRPC.
    client = triton.InferenceServerClient(f"127.0.0.1:{container.grpc}")
    try:
        features = triton.InferInput("input-0", [1, 4], "FP64")
        features.set_data_from_numpy(np.array([ROW]))
        predicted = client.infer("iris-lr", [features]).as_numpy("predict")
        assert predicted is not None and predicted.tolist() == [b"setosa"]
    finally:
        client.close()

    # Not root: the image's user, for PID 1 itself.
    assert docker("exec", container.id, "id", "-u") == "10001"
    status = docker("exec", container.id, "cat", "/proc/1/status")
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {"10001"}, uids
    command = docker("exec", container.id, "cat", "/proc/1/cmdline").split("\0")
    assert any(part.endswith("/modelport") for part in command), command

    # SIGTERM to PID 1 (what docker stop and the kubelet send): a clean exit, status 0.
    stopping = time.monotonic()
    docker("kill", "--signal", "TERM", container.id)
    exit_code = docker("wait", container.id, timeout=STOP_TIMEOUT_S)
    stopped_after = time.monotonic() - stopping
    print(f"exited {exit_code} {stopped_after:.1f} s after SIGTERM")
    assert exit_code == "0", container.logs()
    assert stopped_after < STOP_TIMEOUT_S
    assert "Finished server process" in container.logs()
