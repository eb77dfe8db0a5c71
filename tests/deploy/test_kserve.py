"""The KServe runtime: KServe's conventions, its schema, and a real modelport server
started exactly as the runtime starts it, answering what the runtime claims."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest
import tritonclient.grpc as triton

from e2e.conftest import SRC
from services import free_port

from .tools import DEPLOY, kubernetes_validate, load_one, settings_from_env

KSERVE = DEPLOY / "kserve"
RUNTIME = KSERVE / "cluster-serving-runtime.yaml"
SCHEMA = Path(__file__).with_name("schemas") / "kserve-clusterservingruntime-v1alpha1.json"
INFERENCE_SERVICES = sorted(KSERVE.glob("inference-service*.yaml"))
#: What KServe puts in place of the runtime's template fields, and where it mounts things.
ISVC_NAME = "iris"
MODEL_MOUNT = "/mnt/models"


@pytest.fixture(scope="module")
def runtime() -> dict[str, Any]:
    return load_one(RUNTIME)


def the_container(runtime: dict[str, Any]) -> dict[str, Any]:
    [container] = runtime["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_kserve_conventions(runtime: dict[str, Any]) -> None:
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert runtime["kind"] == "ClusterServingRuntime"
    assert runtime["metadata"]["name"] == "modelport"
    spec = runtime["spec"]
    assert spec["protocolVersions"] == ["v1", "v2", "grpc-v2"]
    formats = {f["name"] for f in spec["supportedModelFormats"]}
    assert formats == {"sklearn", "xgboost", "lightgbm", "onnx"}
    container = the_container(runtime)
    assert container["name"] == "kserve-container"
    env = env_of(container)
    assert env["MODELPORT_PORT"] == "8080"
    assert env["MODELPORT_GRPC_PORT"] == "9000"
    assert env["MODELPORT_HOST"] == "0.0.0.0"
    # Knative: one declared port, the HTTP one.
    assert container["ports"] == [{"containerPort": 8080, "name": "http1", "protocol": "TCP"}]
    # The model KServe mounts, served under the InferenceService's name.
    assert MODEL_MOUNT in " ".join(container["args"])
    assert "{{.Name}}" in json.dumps(container)
    annotations = spec["annotations"]
    assert annotations["prometheus.kserve.io/port"] == env["MODELPORT_PORT"]
    assert annotations["prometheus.kserve.io/path"] == "/metrics"


def strict(schema: Any) -> Any:
    """The CRD's schema with no property left unnamed (as --strict does for the core API)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def test_runtime_validates_against_kserves_schema(runtime: dict[str, Any]) -> None:
    schema = strict(json.loads(SCHEMA.read_text()))
    jsonschema.validate(runtime, schema)
    wrong = copy.deepcopy(runtime)
    wrong["spec"]["protocolVersion"] = wrong["spec"].pop("protocolVersions")
    with pytest.raises(jsonschema.ValidationError, match="protocolVersion"):
        jsonschema.validate(wrong, schema)


def as_pod(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kserve-runtime"},
        "spec": {"containers": containers},
    }


def test_container_is_a_valid_kubernetes_container(runtime: dict[str, Any], tmp_path: Path) -> None:
    kubernetes_validate([as_pod([the_container(runtime)])], tmp_path)


@pytest.mark.parametrize("path", INFERENCE_SERVICES, ids=lambda p: p.name)
def test_inference_services_use_the_runtime(
    path: Path, runtime: dict[str, Any], tmp_path: Path
) -> None:
    isvc = load_one(path)
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats
    assert model["storageUri"]
    protocol = model.get("protocolVersion", "v1")
    assert protocol in runtime["spec"]["protocolVersions"]
    if protocol == "grpc-v2":
        # KServe sends gRPC to the port named h2c: the one modelport's gRPC listens on.
        [port] = model["ports"]
        assert port["name"] == "h2c"
        assert str(port["containerPort"]) == env_of(the_container(runtime))["MODELPORT_GRPC_PORT"]
        pod = as_pod([{"name": "kserve-container", "image": "x", "ports": model["ports"]}])
        kubernetes_validate([pod], tmp_path)


class RuntimeProcess:
    """The runtime's command and environment, run here: KServe's paths and ports replaced
    by temporary ones, its template field by an InferenceService's name."""

    def __init__(self, container: dict[str, Any], root: Path) -> None:
        self.mount = root / "mnt" / "models"
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.http_port, self.grpc_port = free_port(), free_port()
        replace = {
            "{{.Name}}": ISVC_NAME,
            MODEL_MOUNT: str(self.mount),
            "/tmp": str(self.tmp),
        }

        pattern = re.compile("|".join(re.escape(old) for old in replace))

        def local(text: str) -> str:
            # One pass: a replacement is never replaced again (tmp_path is under /tmp).
            return pattern.sub(lambda match: replace[match[0]], text)

        env = {name: local(value) for name, value in env_of(container).items()}
        assert env.pop("MODELPORT_PORT") == "8080"
        assert env.pop("MODELPORT_GRPC_PORT") == "9000"
        env["MODELPORT_PORT"] = str(self.http_port)
        env["MODELPORT_GRPC_PORT"] = str(self.grpc_port)
        base = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
        self.env = {
            **base,
            # `modelport` on PATH is this venv's; this checkout's code first.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
            "PYTHONPATH": str(SRC),
            **env,
        }
        self.command = [local(part) for part in [*container["command"], *container["args"]]]
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.log_path = root / "runtime.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exited early:\n{self.log()}"
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready after {timeout_s}s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM to the container's main process, as the kubelet sends it."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"still running 20 s after SIGTERM:\n{self.log()}") from None
        return self.process.returncode


@pytest.fixture
def kserve_server(
    runtime: dict[str, Any], trained_models: Path, tmp_path: Path
) -> Iterator[RuntimeProcess]:
    server = RuntimeProcess(the_container(runtime), tmp_path)
    # What KServe's storage initializer leaves in /mnt/models: the model's files.
    server.mount.mkdir(parents=True)
    shutil.copy(trained_models / "iris-lr" / "1" / "model.joblib", server.mount)
    shutil.copy(trained_models / "iris-lr" / "model.yaml", server.mount)
    server.mount.chmod(0o555)  # KServe mounts it read-only
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        server.mount.chmod(0o755)


#: Host names KServe's ingress and queue proxy send (the pod IP for Prometheus).
KSERVE_HOSTS = [
    f"{ISVC_NAME}-predictor.default.example.com",
    f"{ISVC_NAME}-predictor.default.svc.cluster.local",
    "10.244.1.17:8080",
]


@pytest.mark.e2e
def test_server_started_as_the_runtime_says_answers_every_claimed_protocol(
    kserve_server: RuntimeProcess, runtime: dict[str, Any]
) -> None:
    url = kserve_server.url
    row = [5.1, 3.5, 1.4, 0.2]
    for host in KSERVE_HOSTS:
        headers = {"Host": host}
        # v1: KServe's V1 protocol, under the InferenceService's name.
        status = httpx.get(f"{url}/v1/models/{ISVC_NAME}", headers=headers, timeout=10)
        assert status.status_code == 200, status.text
        assert status.json()["name"] == ISVC_NAME and status.json()["ready"] is True, status.text
        answer = httpx.post(
            f"{url}/v1/models/{ISVC_NAME}:predict",
            json={"instances": [row]},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == ["setosa"]
        # v2: the Open Inference Protocol over REST.
        assert httpx.get(f"{url}/v2/health/live", headers=headers).status_code == 200
        ready = httpx.get(f"{url}/v2/models/{ISVC_NAME}/ready", headers=headers, timeout=10)
        assert ready.status_code == 200, ready.text
        infer = httpx.post(
            f"{url}/v2/models/{ISVC_NAME}/infer",
            json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4], "data": row}]},
            headers=headers,
            timeout=10,
        )
        assert infer.status_code == 200, infer.text
        assert infer.json()["outputs"][0]["data"] == ["setosa"]
    # Prometheus, where the runtime's annotations say.
    annotations = runtime["spec"]["annotations"]
    assert annotations["prometheus.kserve.io/port"] == "8080"  # = MODELPORT_PORT, here:
    metrics = httpx.get(
        f"{url}{annotations['prometheus.kserve.io/path']}",
        headers={"Host": KSERVE_HOSTS[-1]},
        timeout=10,
    )
    assert metrics.status_code == 200
    assert f'modelport_requests_total{{model="{ISVC_NAME}"' in metrics.text

    # grpc-v2: the Open Inference Protocol over gRPC, on the port MODELPORT_GRPC_PORT gives.
    client = triton.InferenceServerClient(f"127.0.0.1:{kserve_server.grpc_port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(ISVC_NAME)
        features = triton.InferInput("input-0", [1, 4], "FP64")
        features.set_data_from_numpy(np.array([row]))
        predicted = client.infer(ISVC_NAME, [features]).as_numpy("predict")
        assert predicted is not None and predicted.tolist() == [b"setosa"]
    finally:
        client.close()


@pytest.mark.e2e
def test_the_runtime_command_execs_modelport_which_stops_cleanly_on_sigterm(
    kserve_server: RuntimeProcess,
) -> None:
    # The shell replaced itself (exec): SIGTERM from the kubelet reaches modelport.
    assert kserve_server.process is not None
    cmdline = Path(f"/proc/{kserve_server.process.pid}/cmdline").read_bytes().split(b"\0")
    assert any(part.endswith(b"modelport") for part in cmdline), cmdline
    assert b"serve" in cmdline
    assert kserve_server.stop() == 0
    # Nothing was written where KServe's model is (it is read-only there).
    assert sorted(p.name for p in kserve_server.mount.iterdir()) == ["model.joblib", "model.yaml"]


def test_runtime_environment_is_real_settings(
    runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = env_of(the_container(runtime))
    settings = settings_from_env(env, monkeypatch, tmp_path)
    assert (settings.port, settings.grpc_port) == (8080, 9000)
    # Every other variable is one the runtime's command reads.
    others = [k for k in env if not k.startswith("MODELPORT_")]
    command = " ".join(the_container(runtime)["args"])
    assert all(k == "XDG_RUNTIME_DIR" or f"${{{k}}}" in command for k in others), others
