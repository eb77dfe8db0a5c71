"""A throw-away network namespace with only loopback, for the Ray test and ``make
bench-ray`` (both import this file, with tools/ put on ``sys.path``).

Why one: Ray binds its agents to the machine's network address even when told
127.0.0.1. Inside a namespace of its own, the cluster, the servers and their clients see
only loopback: nothing leaves the machine, and Ray's fixed ports cannot collide with the
services outside. Needs root and iproute2 (``ip netns``).

Every process started in the namespace is stopped by its PID (``stop_all``), never by
name: other Ray instances of the same user on the machine are left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["IP", "cmdline", "enter", "namespace", "pids", "stop_all"]

#: setns(2)'s flag for a network namespace.
CLONE_NEWNET = 0x40000000
#: iproute2's command, by its full path.
IP = shutil.which("ip") or "/usr/sbin/ip"


@contextlib.contextmanager
def namespace(prefix: str) -> Iterator[str]:
    """A new namespace ``<prefix>-<random>`` with loopback up; at the end, every process
    still in it is stopped and the namespace deleted."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run([IP, "netns", "add", name], check=True)
    try:
        subprocess.run([IP, "netns", "exec", name, IP, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        stop_all(name)
        subprocess.run([IP, "netns", "del", name], check=False)


def enter(name: str) -> None:
    """Move the calling thread into namespace ``name``: the sockets it opens from then on
    are there (a thread pool's initializer makes clients inside it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
    finally:
        os.close(fd)


def pids(name: str) -> list[int]:
    """The processes in the namespace."""
    out = subprocess.run([IP, "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def cmdline(pid: int) -> str:
    """A process's command line, or "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_all(name: str) -> None:
    """SIGTERM to every process in the namespace; SIGKILL to those left after 10 s (Ray's
    GCS server does not stop on SIGTERM)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 10
        while pids(name) and time.monotonic() < deadline:
            time.sleep(0.25)
