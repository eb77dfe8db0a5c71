"""Throw-away MariaDB and Redis servers on spare ports, for tests that stop them mid-run.

The machine's shared servers (3306, 6379) are never stopped: a test that needs an outage
starts its own instance from the installed binaries, in a temporary folder, stops and
restarts it by its own process id, and removes it at the end. Every wait is bounded.
Missing binaries skip the test (or fail it, with MODELPORT_TEST_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from services import free_port, port_open, unavailable

__all__ = ["ThrowawayMariaDB", "ThrowawayRedis"]

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _binary(name: str, service: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found is None:
        unavailable(service, f"'{name}' is not installed")
    return found


class _Process:
    """One server process on ``port``; started and stopped by its own pid."""

    service = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = folder / "server.log"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start (or start again, on the same port and data) and wait until it accepts."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.service} did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown); SIGKILL after STOP_TIMEOUT_S."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class ThrowawayRedis(_Process):
    service = "Redis (throw-away)"

    def __init__(self, folder: Path) -> None:
        self.binary = _binary("redis-server", self.service)
        super().__init__(folder)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
        ]


class ThrowawayMariaDB(_Process):
    """A MariaDB server of its own (no grant tables: any user may connect)."""

    service = "MariaDB (throw-away)"

    def __init__(self, folder: Path) -> None:
        self.binary = _binary("mariadbd", self.service)
        installer = _binary("mariadb-install-db", self.service)
        super().__init__(folder)
        self.data = folder / "data"
        done = subprocess.run(
            [
                installer,
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self._user(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {done.stderr.decode()[-2000:]}")

    @staticmethod
    def _user() -> list[str]:
        # mariadbd refuses to run as root unless told so (the CI container is root).
        return ["--user=root"] if os.geteuid() == 0 else []

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.folder / 'mysqld.sock'}",
            f"--pid-file={self.folder / 'mysqld.pid'}",
            "--skip-grant-tables",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            # Durable enough for a test, and far quicker on a shared disk.
            "--innodb-flush-log-at-trx-commit=2",
            *self._user(),
        ]

    def create_database(self, name: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url(""), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        finally:
            engine.dispose()
