"""Install what ``make bench`` needs: ``wrk`` and one virtual environment per baseline.

Each baseline lives in ``bench/.venvs/<name>`` so its libraries never mix with modelport's.
A venv is rebuilt only when its requirement list changes (a stamp file holds the list).
scikit-learn, and for the ASGI baselines the HTTP server, are pinned to the versions in
modelport's own venv: every server unpickles the same joblib files on the same stack.
Run with the project venv's Python: ``.venv/bin/python bench/setup_env.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENVS_DIR = BENCH_DIR / ".venvs"
MLSERVER_VERSION = "1.7.1"
INSTALL_TIMEOUT_S = 1800


def _pinned(dist: str) -> str:
    """``dist==<version in this interpreter>``, so a baseline runs what modelport runs."""
    return f"{dist}=={importlib.metadata.version(dist)}"


def requirements() -> dict[str, list[str]]:
    """Requirement list of every bench venv, by venv name."""
    sklearn = _pinned("scikit-learn")
    return {
        # modelport as a user deploys it for a scikit-learn model: `modelport[sklearn,grpc]`,
        # not the development venv, whose test extras (pandas, pyarrow, ...) scikit-learn
        # would import at start (about 0.4 s and 80 MB). Editable, so it runs this
        # checkout; its own dependencies are pinned to the development venv's versions.
        # gRPC is imported only when its port is on (the gRPC points; --grpc-port 0 else).
        "modelport": [
            "-e",
            f"{REPO_DIR}[sklearn,grpc]",
            _pinned("grpcio"),
            _pinned("protobuf"),
            sklearn,
            _pinned("numpy"),
            _pinned("fastapi"),
            _pinned("uvicorn"),
            _pinned("uvloop"),
            _pinned("httptools"),
            _pinned("sqlalchemy"),
            _pinned("orjson"),
            # pip does not see a change to pyproject.toml in the list: its hash does.
            f"# pyproject.toml {_pyproject_hash()}",
        ],
        # MLServer 1.7.1's inference workers fail to start with uvloop 0.22 and newer
        # (SeldonIO/MLServer issue 2286): pin it, as its users must.
        "mlserver": [
            f"mlserver=={MLSERVER_VERSION}",
            f"mlserver-sklearn=={MLSERVER_VERSION}",
            "uvloop<0.22",
            sklearn,
        ],
        # Pinned, like every baseline, so that a run compares what the last one did.
        "flask": ["flask==3.1.3", "gunicorn==27.0.1", sklearn],
        # The sampling profiler of `make bench-profile` (it reads another process's stacks).
        "tools": ["py-spy==0.4.3"],
        "asgi": [
            _pinned("uvicorn"),
            _pinned("uvloop"),
            _pinned("httptools"),
            _pinned("fastapi"),
            sklearn,
        ],
    }


def _pyproject_hash() -> str:
    return hashlib.sha256((REPO_DIR / "pyproject.toml").read_bytes()).hexdigest()[:16]


def _run(argv: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        done = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        sys.exit(f"bench setup: {' '.join(argv[:4])} ... failed (see {log}):\n{tail}")


def ensure_venv(name: str, reqs: list[str], force: bool) -> bool:
    """Create or refresh ``bench/.venvs/<name>``; True when something was installed."""
    target = VENVS_DIR / name
    stamp = target / ".bench-requirements"
    wanted = "\n".join(reqs) + "\n"
    python = target / "bin" / "python"
    if not force and python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return False
    print(f"bench setup: installing {name} venv: {' '.join(reqs)}", flush=True)
    if target.exists():
        shutil.rmtree(target)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True).create(target)
    log = VENVS_DIR / f"{name}.install.log"
    log.write_text("")
    _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], log)
    installable = [req for req in reqs if not req.startswith("#")]
    _run([str(python), "-m", "pip", "install", "--quiet", *installable], log)
    stamp.write_text(wanted)
    return True


def ensure_tool(command: str, package: str) -> None:
    """Install Debian's ``package`` when ``command`` is missing (apt-get update first)."""
    if shutil.which(command):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if sudo and not shutil.which("sudo"):
        sys.exit(f"bench setup: {command} is missing; install it with: apt-get install {package}")
    print(f"bench setup: installing {package} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        subprocess.run([*sudo, *argv], check=True, env=env, timeout=INSTALL_TIMEOUT_S)
    if not shutil.which(command):
        sys.exit(f"bench setup: apt-get did not provide {command}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild every venv")
    args = parser.parse_args(argv)
    if not shutil.which("taskset"):
        sys.exit("bench setup: taskset (util-linux) is needed to pin processes to cores")
    ensure_tool("wrk", "wrk")
    # h2load drives the gRPC points (HTTP/2 with a pre-encoded gRPC message).
    ensure_tool("h2load", "nghttp2-client")
    for name, reqs in requirements().items():
        ensure_venv(name, reqs, args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
