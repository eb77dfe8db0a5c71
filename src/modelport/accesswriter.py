"""Writes access lines cheaply: formatted at once, written in batches.

Python's logging costs some 15 µs a record (a LogRecord, the logger and handler locks,
a formatter, a flushed write): at 13,000 requests a second on one core that was a quarter
of the throughput. An access line needs none of it: the writer formats it straight into a
string, keeps it in a buffer, and writes the buffer to the log's stream in one call at
most ``interval`` seconds later (from a background thread), when the buffer grows large,
and when the server stops. The lines look as they would through logging (the same text
prefix, the same JSON fields), so that a terminal or a log shipper sees one log.

Other records (warnings, errors) still go through logging; before one is written, the
access lines waiting are written first (:meth:`AccessWriter.flush` is called by the
``RequestIdFilter`` hook), so the log keeps the order things happened in.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from typing import IO, Literal

import orjson

__all__ = ["AccessWriter", "flush_all"]

#: Write at once when this many characters wait, whatever the interval.
_BUFFER_CHARS = 64 * 1024

_writers: list[AccessWriter] = []


def flush_all() -> None:
    """Write every writer's waiting lines now (before another log record, and at exit)."""
    for writer in _writers:
        writer.flush()


atexit.register(flush_all)


class AccessWriter:
    """One access line per request, to ``stream`` (standard error by default), in the
    text or JSON format of the rest of the log."""

    def __init__(
        self,
        log_format: Literal["text", "json"] = "text",
        stream: IO[str] | None = None,
        interval: float = 0.1,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._json = log_format == "json"
        self._interval = interval
        colour = not self._json and _is_terminal(self._stream)
        # The prefix uvicorn's formatter gives an INFO record, so the lines line up.
        level = "\x1b[32mINFO\x1b[0m" if colour else "INFO"
        self._prefix = f"{level}:     modelport.access: "
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # (second, its text): one tuple, so threads never see half an update.
        self._stamp: tuple[int, str] = (-1, "")
        _writers.append(self)

    def write(
        self,
        request_id: str,
        method: str,
        path: str,
        status: int | str,
        duration_ms: float,
        client: str | None,
        model: str | None,
        version: int | None,
        protocol: str | None,
        rows: int | None,
    ) -> None:
        """Add one request's line (``path`` already made safe to log)."""
        served = "" if model is None else f" {model} v{version} {rows} row(s)"
        message = f'{client or "-"} "{method} {path}" {status} {duration_ms:.1f} ms{served}'
        if self._json:
            line = orjson.dumps(
                {
                    "time": self._time(),
                    "level": "info",
                    "logger": "modelport.access",
                    "message": f"{message} [{request_id}]",
                    "request_id": request_id,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": client,
                    "model": model,
                    "version": version,
                    "protocol": protocol,
                    "rows": rows,
                }
            ).decode()
        else:
            line = f"{self._prefix}{message} [{request_id}]"
        with self._lock:
            self._lines.append(line)
            self._size += len(line)
            full = self._size >= _BUFFER_CHARS
        if full:
            self.flush()
        elif self._thread is None:
            self._start()

    def flush(self) -> None:
        """Write the waiting lines now, in one write."""
        with self._lock:
            if not self._lines:
                return
            lines, self._lines, self._size = self._lines, [], 0
            # Under the lock, so that two flushes cannot swap the order of their lines.
            try:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                # The stream is closed or gone (a shell that went away): the lines are
                # lost as any log line would be, and serving goes on.
                pass

    def close(self) -> None:
        """Write what waits and stop the background thread."""
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
        if self in _writers:
            _writers.remove(self)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="modelport-access-log", daemon=True
            )
        self._thread.start()

    def _run(self) -> None:
        while not self._wake.wait(self._interval):
            self.flush()

    def _time(self) -> str:
        """Now in the JSON format's form (UTC, milliseconds), the date part made once a
        second."""
        now = time.time()
        second = int(now)
        stamp = self._stamp
        if stamp[0] != second:
            stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._stamp = stamp
        return f"{stamp[1]}.{int((now - second) * 1000):03d}Z"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
