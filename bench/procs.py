"""Server processes for the benchmark: start pinned, wait for the first answer, measure
memory, stop by their own process ids (never by name). Every wait has a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HOST",
    "Launch",
    "Server",
    "cpu_ticks",
    "free_port",
    "post",
    "process_tree",
    "rss_mb",
    "start",
    "stop",
    "wait_all_200",
    "wait_first_200",
    "wait_get_200",
    "wait_idle",
]

HOST = "127.0.0.1"
POLL_S = 0.01
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Launch:
    """How to start one server process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass
class Server:
    """A started server: its process, where it listens, and when it was started."""

    label: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float  # time.monotonic() just before the process was created
    children: list[tuple[int, int]] = field(default_factory=list)  # (pid, start time)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(label: str, launch: Launch, port: int, log: Path, cpus: str | None) -> Server:
    """Start ``launch`` (pinned to ``cpus`` with taskset unless None), output to ``log``."""
    argv = ["taskset", "-c", cpus, *launch.argv] if cpus is not None else launch.argv
    out = log.open("ab")
    try:
        started = time.monotonic()
        # Own session: a Ctrl-C in the terminal reaches only the harness, which stops us.
        proc = subprocess.Popen(
            argv,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()
    return Server(label, proc, port, log, started)


def post(url: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """POST JSON ``body``; returns (status, response body); status 0 when nothing answered."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
    except (OSError, urllib.error.URLError):
        return 0, b""


def wait_first_200(server: Server, path: str, body: bytes, timeout_s: float) -> float:
    """Seconds from the process start to its first 200 answer to POST ``path``."""
    deadline = time.monotonic() + timeout_s
    url = server.base_url + path
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.label} exited with code {server.proc.returncode} before it answered "
                f"(log: {server.log})"
            )
        status, _ = post(url, body, timeout=max(0.1, min(5.0, deadline - time.monotonic())))
        if status == 200:
            return time.monotonic() - server.started
        time.sleep(POLL_S)
    raise RuntimeError(f"{server.label} did not answer 200 within {timeout_s:.0f} s ({server.log})")


def wait_get_200(server: Server, path: str, timeout_s: float) -> float:
    """Seconds from the process start until GET ``path`` answers 200 (e.g. readiness)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.label} exited with code {server.proc.returncode}")
        try:
            with urllib.request.urlopen(server.base_url + path, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - server.started
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(POLL_S)
    raise RuntimeError(f"{server.label}: GET {path} not 200 within {timeout_s:.0f} s")


def wait_all_200(
    server: Server, probes: list[tuple[str, bytes]], rounds: int, timeout_s: float
) -> None:
    """Wait until every probe (path, body) answers 200 ``rounds`` times in a row: every
    model of every worker process is loaded (workers answer on fresh connections)."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while streak < rounds:
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{server.label} not serving every model within {timeout_s:.0f} s")
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.label} exited with code {server.proc.returncode}")
        statuses = [post(server.base_url + path, body)[0] for path, body in probes]
        streak = streak + 1 if all(status == 200 for status in statuses) else 0
        if streak == 0:
            time.sleep(POLL_S * 5)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(fields[1]), int(fields[19])


def process_tree(pid: int) -> list[tuple[int, int]]:
    """``pid`` and every live descendant, each as (pid, start time)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append((int(entry), stat[1]))
    root = _stat(pid)
    if root is None:
        return []
    tree = [(pid, root[1])]
    queue = [pid]
    while queue:
        for child in parents.get(queue.pop(), []):
            tree.append(child)
            queue.append(child[0])
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of ``pid`` plus all its descendants, in MB (10^6 bytes)."""
    total_kb = 0
    for child, _ in process_tree(pid):
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb * 1024 / 1e6


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of ``pid`` and its descendants, in clock ticks."""
    total = 0
    for child, _ in process_tree(pid):
        try:
            raw = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total


def wait_idle(pid: int, timeout_s: float, window_s: float = 0.25, max_share: float = 0.05) -> float:
    """Wait until ``pid``'s process tree uses under ``max_share`` of a core over a window.

    A server keeps working on requests queued before wrk hung up; on a shared core that
    backlog would be charged to the next server measured. Returns the seconds waited.
    """
    began = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pid)
    while time.monotonic() - began < timeout_s:
        time.sleep(window_s)
        after = cpu_ticks(pid)
        if (after - before) / hz <= max_share * window_s + 1 / hz:
            break
        before = after
    return time.monotonic() - began


def _kill_if_same(pid: int, started: int) -> None:
    stat = _stat(pid)
    if stat is not None and stat[1] == started:  # same process, not a reused pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop(*servers: Server) -> None:
    """SIGTERM each server's own pid (all at once), wait, then SIGKILL what is left of it
    and of the children recorded before the signal."""
    for server in servers:
        if server.proc.poll() is None:
            server.children = process_tree(server.proc.pid)[1:] or server.children
            server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for server in servers:
        try:
            server.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=STOP_GRACE_S)
    children = [child for server in servers for child in server.children]
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(_stat(pid) is not None for pid, _ in children):
        time.sleep(0.05)  # children usually exit on their own right after the parent
    for pid, started in children:
        _kill_if_same(pid, started)
