"""End-to-end fixtures: the real ``modelport serve`` process on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from conftest import SHARED_MODEL_FOLDERS
from databases import BACKENDS, empty_database
from modelport.train_examples import train_examples
from services import free_port

SUPPORT = Path(__file__).resolve().parent.parent / "support"
#: This checkout's code first, so a server started from a git worktree runs that code.
SRC = Path(__file__).resolve().parent.parent.parent / "src"
MODELPORT = Path(sys.executable).with_name("modelport")


#: The system suites: several server processes at once (workers, supervisors, a Ray
#: cluster, servers sharing a database or bucket), faults made on purpose (kills, full
#: disks, outages, overload), every database in turn, and whole user journeys. They take
#: longer than the rest of the suite together, so `make test-system` runs them and
#: `make test` does not; CI runs both. Marked here, in one list, so that moving a suite
#: between the two is one line.
SYSTEM_SUITES = frozenset(
    {
        "test_access_log",
        "test_admin",
        "test_admin_security",
        "test_admin_sync",
        "test_admission",
        "test_database_place",
        "test_faults_crash",
        "test_faults_database",
        "test_faults_disk",
        "test_faults_hung_model",
        "test_faults_model_exit",
        "test_faults_recycle",
        "test_faults_watch",
        "test_faults_worker_kill",
        "test_first_minutes",
        "test_lenient_models",
        "test_log_and_cache_services",
        "test_metrics",
        "test_mlflow_folders",
        "test_monitor",
        "test_object_store",
        "test_ray_engine",
        "test_rejected_in_the_log",
        "test_rollouts",
        "test_security_transport",
        "test_seed_examples",
        "test_server",
        "test_v2_grpc_load_faults",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent and item.path.stem in SYSTEM_SUITES:
            item.add_marker(pytest.mark.system)


def _serves_a_shared_folder(args: list[str], env: dict[str, str] | None) -> bool:
    """Whether the server would keep its database inside a folder other tests serve."""
    chosen = {"--data-dir", "--database-url"} & set(args) or {
        "MODELPORT_DATA_DIR",
        "MODELPORT_DATABASE_URL",
    } & set(env or {})
    if chosen or not args or args[0].startswith("-"):
        return False
    return Path(args[0]).resolve() in SHARED_MODEL_FOLDERS


class Server:
    """One server process; stopped by its own PID only."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        program: Path = MODELPORT,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Every server gets its own gRPC port: the default 8001 would collide between
        # servers. A test may choose one itself (flag or MODELPORT_GRPC_PORT; 0 = off).
        chosen = "--grpc-port" in args or "MODELPORT_GRPC_PORT" in (env or {})
        if "--grpc-port" in args:
            self.grpc_port = int(args[args.index("--grpc-port") + 1])
        elif chosen:
            self.grpc_port = int((env or {})["MODELPORT_GRPC_PORT"])
        else:
            self.grpc_port = free_port()
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        grpc_args = [] if chosen else ["--grpc-port", str(self.grpc_port)]
        if _serves_a_shared_folder(args, env):
            grpc_args += ["--data-dir", str(cwd)]
        self.log_path = cwd / f"server-{self.port}.log"
        # Where a server without an admin_token saves the one it makes (see admin_token).
        self.runtime_dir = cwd / f"run-{self.port}"
        full_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), str(SUPPORT)]),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            **(env or {}),
        }
        self.env = full_env
        self.args = args
        # Settings must come only from what each test passes.
        for key in list(full_env):
            if key.startswith("MODELPORT_") and key not in (env or {}):
                del full_env[key]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(program), "serve", *args, "--port", str(self.port), *grpc_args],
                cwd=cwd,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout_s}s:\n{self.log()}")

    @property
    def admin_token(self) -> str:
        """The management token: the test's own, else the one the server made at start."""
        if "--admin-token" in self.args:
            return self.args[self.args.index("--admin-token") + 1]
        if "MODELPORT_ADMIN_TOKEN" in self.env:
            return self.env["MODELPORT_ADMIN_TOKEN"]
        saved = Path(self.env["XDG_RUNTIME_DIR"]) / "modelport" / f"admin-token-{self.port}"
        return saved.read_text().strip()

    @property
    def admin(self) -> dict[str, str]:
        """Headers of a management request."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class StartServer(Protocol):
    def __call__(
        self, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Server: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers with ``start_server(args, cwd, env)``; each is stopped after the test."""
    started: list[Server] = []

    def start(
        args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Server:
        server = Server(args, cwd or tmp_path, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def make_quirky_model(target: Path) -> None:
    """Pickle a QuirkyModel into ``target`` (in a subprocess that can import it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    code = (
        "import pickle, sys, quirky_model; "
        "pickle.dump(quirky_model.QuirkyModel(), open(sys.argv[1], 'wb'))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env={**os.environ, "PYTHONPATH": str(SUPPORT)},
        check=True,
    )


@pytest.fixture(scope="session")
def shared_server(
    trained_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server for the read-only tests: iris-lr, iris-dt, loan-rf (string features), a
    bare file, a broken model and a quirky one; a 1 s request timeout and a 64 KiB body
    limit, quick to hit."""
    root = tmp_path_factory.mktemp("shared-server")
    models = root / "models"
    shutil.copytree(trained_models, models)
    train_examples(models, names=["loan-rf"])
    shutil.copy(models / "iris-lr" / "1" / "model.joblib", models / "lr_iris.model")
    (models / "broken" / "1").mkdir(parents=True)
    (models / "broken" / "1" / "model.joblib").write_bytes(b"this is not a pickle")
    make_quirky_model(models / "quirky" / "1" / "model.pkl")
    server = Server([str(models), "--request-timeout", "1", "--max-body-size", "65536"], cwd=root)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(shared_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database of its own, on each backend in turn (SQLite, MariaDB, PostgreSQL)."""
    yield from empty_database(request.param, tmp_path_factory)
