"""Writes access lines cheaply: formatted and written in batches, off the request's path.

Python's logging costs some 15 µs a record (a LogRecord, the logger and handler locks,
a formatter, a flushed write): at 13,000 requests a second on one core that was a quarter
of the throughput. An access line needs none of it: the request's thread only appends a
tuple of its fields; a background thread formats the lines and writes them to the log's
stream in one call at most ``interval`` seconds later, at once when many wait, and when
the server stops. The request's thread never waits for the stream. The lines look as
they would through logging (the same text prefix, the same JSON fields), so that a
terminal or a log shipper sees one log.

Other records (warnings, errors) still go through logging; before one is written, the
access lines waiting are written first (:meth:`AccessWriter.flush` is called by the
``RequestIdFilter`` hook), so the log keeps the order things happened in.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections import deque
from typing import IO, Literal

import orjson

__all__ = ["AccessWriter", "flush_all", "loggable"]

#: Write at once when this many lines wait, whatever the interval.
_BUFFER_LINES = 512
#: Keep no more than this while the stream does not take lines (a stalled pipe): the
#: rest are counted, and the count written when it takes them again.
_MAX_LINES = 65_536
#: Longest path a line quotes whole.
_PATH_CHARS = 2000

#: (time, request id, method, path, status, seconds, client, model, version, protocol, rows)
_Entry = tuple[
    float,
    str,
    str,
    str,
    "int | str",
    float,
    "str | None",
    "str | None",
    "int | None",
    "str | None",
    "int | None",
]


def loggable(path: str) -> str:
    """The path as the log may show it: a newline or other control character escaped (so
    that a crafted URL cannot forge a log line), and a huge path cut short."""
    if not path.isprintable():
        path = repr(path)[1:-1]
    if len(path) > _PATH_CHARS:
        path = f"{path[:_PATH_CHARS]}… ({len(path):,} characters)"
    return path


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
        # deque.append and popleft are atomic: the request's thread takes no lock.
        self._entries: deque[_Entry] = deque()
        #: Lines not kept since the last write: the stream was not taking them.
        self._dropped = 0
        # _lock guards the dropped count and the thread's start; _writing orders the
        # writes, and is held through the (maybe slow) write itself, which the event loop
        # never waits for.
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._due = threading.Event()
        self._stopping = False
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
        seconds: float,
        client: str | None,
        model: str | None,
        version: int | None,
        protocol: str | None,
        rows: int | None,
    ) -> None:
        """Add one request's line: kept as it is, formatted by the writer thread."""
        entry = (
            time.time(),
            request_id,
            method,
            path,
            status,
            seconds,
            client,
            model,
            version,
            protocol,
            rows,
        )
        entries = self._entries
        if len(entries) >= _MAX_LINES:
            with self._lock:
                self._dropped += 1
            return
        entries.append(entry)
        if self._thread is None:
            self._start()
        if len(entries) >= _BUFFER_LINES:
            self._due.set()  # the writer thread writes now, not the request's thread

    def _line(self, entry: _Entry) -> str:
        at, request_id, method, path, status, seconds, client, model, version, protocol, rows = (
            entry
        )
        path = loggable(path)
        duration_ms = round(seconds * 1000, 2)
        served = "" if model is None else f" {model} v{version} {rows} row(s)"
        message = f'{client or "-"} "{method} {path}" {status} {duration_ms:.1f} ms{served}'
        if not self._json:
            return f"{self._prefix}{message} [{request_id}]"
        return orjson.dumps(
            {
                "time": self._time(at),
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

    def flush(self) -> None:
        """Write the waiting lines now, in one write."""
        with self._writing:  # two flushes cannot swap the order of their lines
            waiting = self._entries
            entries = [waiting.popleft() for _ in range(len(waiting))]
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            if not entries and not dropped:
                return
            lines = [self._line(entry) for entry in entries]
            if dropped:
                lines.append(
                    f"{self._prefix}{dropped} access line(s) dropped: the log's stream was "
                    "not taking them"
                )
            try:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                # The stream is closed or gone (a shell that went away): the lines are
                # lost as any log line would be, and serving goes on.
                pass

    def close(self) -> None:
        """Write what waits and stop the background thread."""
        self._stopping = True
        self._due.set()
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
        while not self._stopping:
            self._due.wait(self._interval)
            self._due.clear()
            self.flush()

    def _time(self, now: float) -> str:
        """``now`` in the JSON format's form (UTC, milliseconds), the date part made once
        a second."""
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
