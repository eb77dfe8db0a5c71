"""Worker recycling, the worker's side (``max_requests``, ``max_worker_memory_mb``).

A worker counts its HTTP requests and looks at its resident memory every second. Once
past a limit it asks its supervisor (``cli/recycle.py``) for a successor by writing a
file named after its process id into the folder the supervisor gave it, and from then on
answers every request with ``Connection: close``. It keeps serving until the successor
serves; the supervisor then stops it gracefully.

Why ``Connection: close``: on shutdown the server closes every idle keep-alive
connection, and a request a client sends on one just then is lost (the client sees the
connection reset, and most clients do not resend a POST). Closing each connection after
its answer while the successor starts leaves next to none of them idle by then: the
clients' next requests open new connections, which any worker may accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from pathlib import Path

from starlette.types import Message, Send

from modelport.config import Settings

__all__ = ["FOLDER_VARIABLE", "Recycler"]

log = logging.getLogger(__name__)

#: The environment variable naming the folder where workers ask to be replaced; the
#: supervisor sets it, only when recycling is on.
FOLDER_VARIABLE = "MODELPORT_RECYCLE_FOLDER"
#: Seconds between two looks at the worker's resident memory (one small /proc read).
MEMORY_CHECK_S = 1.0
#: Each worker's request limit is max_requests plus up to this share of it.
JITTER = 0.1
MIB = 1024 * 1024


class Recycler:
    """One worker's request count and memory watch; asks once for its replacement."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.folder = folder
        limit = self.max_requests = settings.max_requests
        # Workers started together under an even load would all reach one limit within a
        # few requests of each other; a draw of up to 10% spreads them by that share of
        # the traffic, while the limit still means what it says. (Not a secret: any
        # generator spreads them.)
        jitter = random.randint(0, int(limit * JITTER))  # noqa: S311
        self.request_limit = limit + jitter if limit else 0
        self.memory_limit_mb = settings.max_worker_memory_mb
        self.requests = 0
        #: Set once the worker has asked for its successor: answers close their connection.
        self.retiring = False

    @classmethod
    def from_environment(cls, settings: Settings) -> Recycler | None:
        """The worker's recycler when its supervisor recycles workers, else None."""
        folder = os.environ.get(FOLDER_VARIABLE)
        if not settings.recycles_workers or not folder:
            return None
        return cls(settings, Path(folder))

    def on_request(self, send: Send) -> Send:
        """Count one HTTP request; the ``send`` to answer it with."""
        self.requests += 1
        if self.requests == self.request_limit:
            self.retire(
                "requests",
                f"it answered {self.requests} requests (max_requests {self.max_requests}, "
                f"plus this worker's {self.request_limit - self.max_requests})",
            )
        if not self.retiring:
            return send
        return _closing(send)

    async def watch_memory(self) -> None:
        """Every second, the resident memory against the limit, until past it."""
        if not self.memory_limit_mb:
            return
        first = True
        while not self.retiring:
            resident = _resident_mib()
            if resident is None:
                log.warning(
                    "max_worker_memory_mb is not enforced: this system has no "
                    "/proc/self/statm to read a worker's memory from"
                )
                return
            if resident > self.memory_limit_mb:
                if first:
                    # A successor would start just as big and be replaced at once, over
                    # and over: say so, and leave this worker be.
                    log.warning(
                        "max_worker_memory_mb %d is below a fresh worker's memory (%.0f MiB "
                        "with its models loaded): workers are not replaced for their memory; "
                        "give a larger limit",
                        self.memory_limit_mb,
                        resident,
                    )
                    return
                self.retire(
                    "memory",
                    f"its memory is {resident:.0f} MiB (max_worker_memory_mb "
                    f"{self.memory_limit_mb})",
                )
                return
            first = False
            await asyncio.sleep(MEMORY_CHECK_S)

    def retire(self, reason: str, why: str) -> None:
        """Ask the supervisor for a successor (once): a file it reads every half second."""
        if self.retiring:
            return
        self.retiring = True
        pid = os.getpid()
        text = json.dumps({"reason": reason, "why": why, "requests": self.requests})
        temporary = self.folder / f".{pid}.tmp"
        try:
            temporary.write_text(text)
            temporary.replace(self.folder / f"{pid}.json")  # never read half-written
        except OSError as exc:  # the folder is gone: the supervisor is stopping
            log.warning("cannot ask for this worker's replacement (%s): %s", why, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()


def _closing(send: Send) -> Send:
    """``send`` that marks the answer's connection to be closed after it."""

    async def closing_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), (b"connection", b"close")]
            message = {**message, "headers": headers}
        await send(message)

    return closing_send


def _resident_mib() -> float | None:
    """This process's resident memory in MiB, or None where /proc is missing."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB
