"""The access-line writer: the lines it writes, when it writes them, and what it survives."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import pytest

from modelport import accesswriter
from modelport.accesslog import RequestIdFilter
from modelport.accesswriter import AccessWriter


def write_one(writer: AccessWriter, request_id: str = "r-1", model: str | None = "iris") -> None:
    writer.write(request_id, "POST", "/v1/models/iris:predict", 200, 0.00093, "127.0.0.1", model,
                 None if model is None else 2, None if model is None else "native",
                 None if model is None else 3)  # fmt: skip


def test_a_text_line_reads_as_the_rest_of_the_log() -> None:
    stream = io.StringIO()
    writer = AccessWriter("text", stream, interval=60)
    write_one(writer)
    write_one(writer, "r-2", model=None)
    assert stream.getvalue() == ""  # waiting for the interval
    writer.close()
    assert stream.getvalue().splitlines() == [
        'INFO:     modelport.access: 127.0.0.1 "POST /v1/models/iris:predict" 200 0.9 ms '
        "iris v2 3 row(s) [r-1]",
        'INFO:     modelport.access: 127.0.0.1 "POST /v1/models/iris:predict" 200 0.9 ms [r-2]',
    ]


def test_a_json_line_has_every_field() -> None:
    stream = io.StringIO()
    writer = AccessWriter("json", stream, interval=60)
    write_one(writer)
    writer.close()
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line.pop("time").endswith("Z")
    assert line == {
        "level": "info",
        "logger": "modelport.access",
        "message": '127.0.0.1 "POST /v1/models/iris:predict" 200 0.9 ms iris v2 3 row(s) [r-1]',
        "request_id": "r-1",
        "method": "POST",
        "path": "/v1/models/iris:predict",
        "status": 200,
        "duration_ms": 0.93,
        "client": "127.0.0.1",
        "model": "iris",
        "version": 2,
        "protocol": "native",
        "rows": 3,
    }


def test_lines_are_written_within_the_interval_without_more_traffic() -> None:
    written = threading.Event()

    class Noticing(io.StringIO):
        def flush(self) -> None:
            if self.getvalue():
                written.set()

    stream = Noticing()
    writer = AccessWriter("text", stream, interval=0.05)
    try:
        write_one(writer)
        assert written.wait(5)
        assert "[r-1]" in stream.getvalue()
    finally:
        writer.close()


def test_another_log_record_first_writes_the_lines_waiting() -> None:
    stream = io.StringIO()
    writer = AccessWriter("text", stream, interval=60)
    try:
        write_one(writer)
        record = logging.makeLogRecord({"name": "modelport.registry", "msg": "unloaded"})
        assert RequestIdFilter().filter(record)
        assert "[r-1]" in stream.getvalue()
    finally:
        writer.close()


def test_a_full_buffer_is_written_at_once_and_in_order() -> None:
    stream = io.StringIO()
    writer = AccessWriter("text", stream, interval=60)
    try:
        for number in range(2000):
            write_one(writer, f"r-{number}")
        # Over the buffer's size: the writer thread writes without waiting for the interval.
        deadline = time.monotonic() + 10
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        written = stream.getvalue().splitlines()
        assert written
        assert [line.rsplit("[", 1)[1] for line in written] == [
            f"r-{number}]" for number in range(len(written))
        ]
    finally:
        writer.close()
    assert len(stream.getvalue().splitlines()) == 2000


def test_a_stalled_stream_costs_bounded_memory_and_the_drops_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accesswriter, "_MAX_LINES", 20)
    release = threading.Event()

    class Stalled(io.StringIO):
        def write(self, text: str) -> int:
            release.wait(10)  # a pipe nobody reads
            return super().write(text)

    stream = Stalled()
    writer = AccessWriter("text", stream, interval=60)
    for number in range(100):  # more than can be kept
        write_one(writer, f"r-{number}")
    release.set()
    writer.close()
    lines = stream.getvalue().splitlines()
    dropped = [line for line in lines if "access line(s) dropped" in line]
    kept = [line for line in lines if "[r-" in line]
    (count,) = [int(word) for word in dropped[0].split() if word.isdigit()]
    assert len(dropped) == 1 and count == 100 - len(kept)
    assert len(kept) == 20


def test_a_closed_stream_loses_the_lines_not_the_server() -> None:
    stream = io.StringIO()
    writer = AccessWriter("text", stream, interval=60)
    write_one(writer)
    stream.close()
    writer.close()  # no exception
