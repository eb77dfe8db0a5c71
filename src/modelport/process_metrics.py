"""CPU, memory and open files of each worker, for ``GET /metrics`` with ``--workers N``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["WorkerProcesses"]


class WorkerProcesses(Collector):
    """CPU, memory and open files of every worker, read from ``/proc`` at scrape time
    (prometheus-client's process collector sees only the process it runs in, and its
    multiprocess mode has none): the scraped worker and, with ``siblings``, the other
    children of its parent. One series per live worker, labelled by ``pid``."""

    def __init__(self, siblings: bool) -> None:
        self.siblings = siblings

    def collect(self) -> Iterator[Metric]:
        labels = ["pid"]
        cpu = CounterMetricFamily(
            "modelport_process_cpu_seconds", "CPU time of a worker, user and system.", labels=labels
        )
        memory = GaugeMetricFamily(
            "modelport_process_resident_memory_bytes", "Resident memory of a worker.", labels=labels
        )
        files = GaugeMetricFamily(
            "modelport_process_open_fds", "Open file descriptors of a worker.", labels=labels
        )
        for pid in self._workers():
            read = _process_numbers(pid)
            if read is None:  # gone meanwhile
                continue
            seconds, rss, fds = read
            cpu.add_metric([str(pid)], seconds)
            memory.add_metric([str(pid)], rss)
            files.add_metric([str(pid)], fds)
        yield from (cpu, memory, files)

    def _workers(self) -> list[int]:
        own = os.getpid()
        if not self.siblings:
            return [own]
        parent = os.getppid()
        # The parent's other children that run what this worker runs (not, say, the
        # multiprocessing resource tracker).
        command = _command(own)
        found = [own]
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) != own:
                numbers = _stat_fields(int(entry.name))
                if (
                    numbers is not None
                    and numbers[1] == str(parent)
                    and _command(int(entry.name)) == command
                ):
                    found.append(int(entry.name))
        return sorted(found)


def _command(pid: int) -> bytes | None:
    """The process's command line up to its first "(": the same for every worker (a
    spawned worker's arguments differ only in its pipe's number) and not for the
    resource tracker, whose "-c" code differs."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"(", 1)[0]
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _process_numbers(pid: int) -> tuple[float, float, int] | None:
    """(CPU seconds, resident bytes, open files) of a process, or None when it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # After the name: state(0) ppid(1) ... utime(11) stime(12) ... rss(21), in pages.
    seconds = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    return seconds, float(rss), fds
