"""modelport's gRPC beside the protobuf its neighbours pin: the server answers V2 gRPC
under the lowest protobuf the grpc extra allows and under the newest release, and
``modelport[all]`` installs beside tritonclient, Ray Serve, MLflow and the KServe SDK
without pushing either side to an older release.

These need PyPI and build environments, so they run with ``make compat`` (which CI runs),
not with ``make test``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton
from packaging.version import Version

from .conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.compat]

ROOT = Path(__file__).resolve().parents[2]
#: The environments these tests build, kept between runs (pip's cache makes them quick).
BUILD = ROOT / "build" / "compat"
PIP_QUIET = ["--quiet", "--disable-pip-version-check"]


def _overlay_env(name: str, protobuf: str) -> Path:
    """A venv that sees this project's environment but holds its own protobuf, and the
    gRPC health and reflection releases pip picks for it; they shadow the installed ones
    (its site-packages comes first on sys.path)."""
    venv = BUILD / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # An `import` line in a .pth file runs at start-up: addsitedir also reads the project
    # environment's own .pth files (the editable install of modelport among them).
    (Path(site) / "modelport-project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    subprocess.run(
        [
            str(python),
            *("-m", "pip", "install", *PIP_QUIET, "--ignore-installed"),
            *(protobuf, "grpcio-health-checking", "grpcio-reflection"),
        ],
        check=True,
    )
    program = venv / "bin" / "modelport"
    program.write_text(f"#!{python}\nfrom modelport.cli import main\nmain()\n")
    program.chmod(0o755)
    return venv


@pytest.mark.parametrize(
    ("name", "requirement"),
    [("protobuf-lowest", "protobuf==5.29.0"), ("protobuf-newest", "protobuf>=7,<8")],
)
def test_grpc_answers_under_each_end_of_the_protobuf_range(
    name: str, requirement: str, trained_models: Path, tmp_path: Path
) -> None:
    venv = _overlay_env(name, requirement)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import google.protobuf as p; print(p.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    server = Server([str(trained_models)], tmp_path, program=venv / "bin" / "modelport")
    try:
        server.wait_ready()
        log = server.log()
        assert "gRPC is off" not in log, log
        assert "health and reflection are off" not in log, log
        client = triton.InferenceServerClient(server.grpc_target)
        try:
            tensor = triton.InferInput("input-0", [1, 4], "FP64")
            tensor.set_data_from_numpy(np.array([[5.1, 3.5, 1.4, 0.2]]))
            answer = client.infer("iris-lr", [tensor])
            labels = answer.as_numpy("predict")
        finally:
            client.close()
    finally:
        server.stop()
    assert labels is not None
    assert labels.tolist() == [b"setosa"]
    if name == "protobuf-lowest":
        assert version == "5.29.0"
    else:
        assert Version(version).major == 7


def _resolve(*requirements: str) -> dict[str, Version]:
    """What pip would install for ``requirements`` into an empty environment."""
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            *PIP_QUIET,
            "--dry-run",
            "--ignore-installed",
            "--report",
            "-",
            *requirements,
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    installs = json.loads(report)["install"]
    return {
        item["metadata"]["name"].lower().replace("_", "-"): Version(item["metadata"]["version"])
        for item in installs
    }


@pytest.mark.parametrize(
    ("client", "package"),
    [
        ("tritonclient[grpc]", "tritonclient"),
        ("ray[serve]", "ray"),
        ("mlflow", "mlflow"),
        ("kserve", "kserve"),
    ],
)
def test_installs_beside_the_clients_people_use(client: str, package: str) -> None:
    alone = _resolve(client)
    together = _resolve(".[all]", client)
    # The client comes in its newest release, not one from before modelport's pins...
    assert together[package] == alone[package], (package, together[package], alone[package])
    # ...nothing the client installs alone is pulled below its own choice by modelport...
    lower = {
        name: (version, alone[name])
        for name, version in together.items()
        if name in alone and version < alone[name]
    }
    assert lower == {}, lower
    # ...while modelport's own packages may come in an older release, within its ranges,
    # where the client's pins demand it (tritonclient keeps protobuf below 7, so gRPC's
    # health and reflection packages stay at their last release built for protobuf 6).
    for name in ("grpcio", "grpcio-health-checking", "grpcio-reflection", "protobuf"):
        assert name in together, name
