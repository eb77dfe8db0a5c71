"""The transport against an attacker: slow headers and bodies (slowloris), too many
connections, and X-Forwarded-For, each as the raw request the attacker would send."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e

ADMIN = "admin-secret-for-transport-tests"
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
KEEP_ALIVE = 1.0
#: Timers on a busy machine fire late; never early.
SLACK = 2.5
HOST = b"Host: 127.0.0.1\r\n"
ROWS = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()
PREDICT = b"POST /v1/models/iris-lr:predict HTTP/1.1\r\n"


@pytest.fixture(scope="module")
def server(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with short deadlines for every slowloris variant."""
    root = tmp_path_factory.mktemp("transport")
    shutil.copytree(trained_models, root / "models")
    args = [str(root / "models"), "--header-timeout", str(HEADER_TIMEOUT)]
    args += ["--body-timeout", str(BODY_TIMEOUT), "--keep-alive-timeout", str(KEEP_ALIVE)]
    started = Server(args, cwd=root, env={"MODELPORT_ADMIN_TOKEN": ADMIN})
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.settimeout(HEADER_TIMEOUT + BODY_TIMEOUT + SLACK + 5)  # bounds every recv
    return sock


def send_slowly(sock: socket.socket, pieces: list[bytes], interval: float) -> None:
    """Send ``pieces`` ``interval`` seconds apart; stop quietly once the server hangs up."""
    for piece in pieces:
        try:
            sock.sendall(piece)
        except OSError:  # closed by the server: what the slow tests wait for
            return
        time.sleep(interval)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (recv times out else)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def assert_408(received: bytes, setting: str) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b"connection: close" in head.lower()
    answer = json.loads(body)
    assert answer["error"] == "request_timeout" and setting in answer["message"]


def assert_closed_by_deadline(started: float, limit: float) -> None:
    took = time.monotonic() - started
    assert limit * 0.9 <= took <= limit + SLACK, f"closed after {took:.2f} s, limit {limit} s"


# Slow headers: 408 (or, with nothing sent, a plain close) within header_timeout.


@pytest.mark.slow  # waits for the server's real header or body deadline
def test_a_silent_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # nothing asked, nothing answered
        assert_closed_by_deadline(started, HEADER_TIMEOUT)


@pytest.mark.slow  # waits for the server's real header or body deadline
@pytest.mark.parametrize(
    ("pieces", "interval"),
    [
        pytest.param([b"G"], 0, id="one-byte"),
        pytest.param([b"GET /health/live HTTP/1.1\r\n"], 0, id="request-line"),
        pytest.param([b"GET /health/live HTTP/1.1\r\n" + HOST + b"X-a: 1\r\n"], 0, id="no-end"),
        pytest.param([PREDICT + HOST + b"Content-Length: 5\r\n"], 0, id="post-no-end"),
        # The classic: a header line every so often, each inside any per-read timeout.
        pytest.param(
            [b"GET / HTTP/1.1\r\n", *[b"X-%d: x\r\n" % i for i in range(40)]], 0.2, id="trickle"
        ),
        pytest.param([b"GET / HTTP/1.1\r\n", *[b"a"] * 40], 0.1, id="trickle-bytes"),
    ],
)
def test_slow_headers_get_408(server: Server, pieces: list[bytes], interval: float) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        send_slowly(sock, pieces, interval)
        received = read_until_closed(sock)
        assert_closed_by_deadline(started, HEADER_TIMEOUT)
    assert_408(received, "header_timeout")


@pytest.mark.slow  # waits for the server's real header or body deadline
def test_slow_headers_on_a_kept_alive_connection_get_408(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\n" + HOST + b"\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health/live HTTP/1.1\r\n" + HOST)  # the next one never ends
        started = time.monotonic()
        received = read_until_closed(sock)
        assert_closed_by_deadline(started, HEADER_TIMEOUT)
    assert_408(received, "header_timeout")


def test_crlf_between_requests_does_not_keep_a_connection_open(server: Server) -> None:
    # uvicorn cancels its keep-alive timer on any byte; a CRLF starts no request.
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\n" + HOST + b"\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        send_slowly(sock, [b"\r\n"] * 3, 0.2)
        assert read_until_closed(sock) == b""
        # the backstop fires at the latest after the header and keep-alive deadlines
        assert time.monotonic() - started <= HEADER_TIMEOUT + KEEP_ALIVE + SLACK


# Stalled bodies: 408 within body_timeout on every kind of route.


def stalled(path: bytes, extra: bytes = b"") -> bytes:
    head = b"POST " + path + b" HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
    return head + extra + b"Content-Length: 100\r\n\r\n{"


@pytest.mark.slow  # waits for the server's real header or body deadline
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(stalled(b"/v1/models/iris-lr:predict"), id="native-fast-lane"),
        pytest.param(stalled(b"/v2/models/iris-lr/infer"), id="v2-route"),
        pytest.param(
            stalled(
                b"/v1/admin/models/iris-lr/versions?filename=model.onnx",
                b"Authorization: Bearer " + ADMIN.encode() + b"\r\n",
            ),
            id="admin-upload",
        ),
        pytest.param(
            PREDICT + HOST + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"ins',
            id="chunked",
        ),
    ],
)
def test_a_stalled_body_gets_408(server: Server, payload: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(payload)
        started = time.monotonic()
        received = read_until_closed(sock)
        assert_closed_by_deadline(started, BODY_TIMEOUT)
    assert_408(received, "body_timeout")
    assert b"x-request-id: " in received.lower()  # the app had the request: its id is kept


@pytest.mark.slow  # waits for the server's real header or body deadline
def test_a_body_that_stops_halfway_gets_408(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(PREDICT + HOST + b"Content-Length: %d\r\n\r\n" % len(ROWS))
        sock.sendall(ROWS[:5])
        time.sleep(BODY_TIMEOUT / 2)  # progress: the clock starts again
        sock.sendall(ROWS[5:10])
        last_byte = time.monotonic()
        received = read_until_closed(sock)
        assert_closed_by_deadline(last_byte, BODY_TIMEOUT)
    assert_408(received, "body_timeout")


@pytest.mark.slow  # waits for the server's real header or body deadline
def test_a_slow_but_steady_body_is_answered(server: Server) -> None:
    # Twice body_timeout in all, but never body_timeout without a byte.
    pieces = [ROWS[i : i + 4] for i in range(0, len(ROWS), 4)]
    interval = BODY_TIMEOUT * 2 / len(pieces)
    assert interval < BODY_TIMEOUT / 3
    with connect(server) as sock:
        sock.sendall(PREDICT + HOST + b"Content-Length: %d\r\n\r\n" % len(ROWS))
        send_slowly(sock, pieces, interval)
        received = read_response(sock)
    assert received.startswith(b"HTTP/1.1 200 "), received[:300]
    assert json.loads(received.partition(b"\r\n\r\n")[2])["predictions"] == ["setosa"]


def test_expect_100_continue_is_not_a_stall(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(
            PREDICT + HOST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(ROWS)
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(ROWS)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_big_upload_passes_while_bytes_keep_coming(server: Server) -> None:
    # 64 MiB at full speed: the app reads slower than loopback sends, so uvicorn pauses
    # reading again and again; those pauses are the server's, not a stalled client.
    data = b"\0" * (64 * 1024 * 1024)
    answer = httpx.post(
        f"{server.url}/v1/admin/models/big/versions",
        params={"filename": "model.onnx"},
        content=data,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=120,
    )
    # The whole body was read, then refused as a model (zeros are not ONNX).
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "model_load_failed"


def test_clients_that_leave_mid_body_do_not_flood_the_log(server: Server) -> None:
    """Hanging up during the body (or being cut off by the deadline) is not a server error:
    no traceback per disconnect for a client to fill the log with."""
    before = server.log().count("Traceback")
    for path in (b"/v2/models/iris-lr/infer", b"/v1/models/iris-lr/invocations"):
        for _ in range(3):
            with connect(server) as sock:
                sock.sendall(stalled(path))
            # the deadline's own cut-off, too
            with connect(server) as sock:
                sock.sendall(stalled(path))
                assert_408(read_until_closed(sock), "body_timeout")
    assert httpx.get(f"{server.url}/health/live", timeout=10).status_code == 200
    assert server.log().count("Traceback") == before, server.log()[-3000:]


def test_the_server_still_serves_after_the_attacks(server: Server) -> None:
    assert httpx.get(f"{server.url}/health/live", timeout=10).status_code == 200


# The connection bound.


@pytest.mark.slow  # waits for the server's real header or body deadline
@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(b"", id="silent"),
        pytest.param(b"GET / HTTP/1.1\r\n", id="partial-headers"),
        pytest.param(stalled(b"/v1/models/iris-lr:predict"), id="stalled-body"),
    ],
)
def test_connections_past_max_connections_get_503_until_deadlines_free_them(
    start_server: StartServer, model_dir: Path, holder: bytes
) -> None:
    deadlines = ["--header-timeout", "3", "--body-timeout", "3"]
    server = start_server([str(model_dir), "--max-connections", "2", *deadlines])
    server.wait_ready()
    holders = [connect(server) for _ in range(2)]
    try:
        for sock in holders:
            sock.sendall(holder)
        with httpx.Client(timeout=10) as http:
            # Until the server has accepted both holders, a probe gets through; then 503.
            deadline = time.monotonic() + 2.5
            while http.get(f"{server.url}/health/live").status_code != 503:
                assert time.monotonic() < deadline, "the third connection was never refused"
            # The deadlines close the holders, and the slots are free again.
            for sock in holders:
                read_until_closed(sock)
            assert http.get(f"{server.url}/health/live").status_code == 200
    finally:
        for sock in holders:
            sock.close()


# Who the client is: X-Forwarded-For counts only from a configured proxy.


def logged_clients(server: Server, request_ids: list[str]) -> dict[str, str]:
    """Client address of each of these requests in the prediction log (waits for the flush)."""
    deadline = time.monotonic() + 20
    found: dict[str, str] = {}
    while time.monotonic() < deadline:
        page = httpx.get(
            f"{server.url}/v1/models/iris-lr/predictions",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        )
        assert page.status_code == 200, page.text
        rows = page.json()["predictions"]
        found = {
            r["request_id"]: r["client_address"] for r in rows if r["request_id"] in request_ids
        }
        if len(found) == len(request_ids):
            return found
        time.sleep(0.2)
    raise AssertionError(f"not logged within 20 s: {set(request_ids) - set(found)}")


def predict_as(server: Server, forwarded: list[tuple[str, str]], tag: str) -> list[str]:
    """Predict on the fast lane and on a routed endpoint with these headers; the ids."""
    ids = [f"{tag}-native", f"{tag}-v2"]
    v2 = {
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]
    }
    with httpx.Client(base_url=server.url, timeout=10) as http:
        native = http.post(
            "/v1/models/iris-lr:predict",
            content=ROWS,
            headers=[*forwarded, ("X-Request-ID", ids[0]), ("Content-Type", "application/json")],
        )
        assert native.status_code == 200, native.text
        routed = http.post(
            "/v2/models/iris-lr/infer", json=v2, headers=[*forwarded, ("X-Request-ID", ids[1])]
        )
        assert routed.status_code == 200, routed.text
    return ids


#: Spoofed headers, and the client uvicorn reads from them when it trusts 127.0.0.1: the
#: nearest address that is not a trusted proxy (repeated headers are joined in order).
SPOOFS: list[tuple[list[tuple[str, str]], str]] = [
    ([("X-Forwarded-For", "6.6.6.6")], "6.6.6.6"),
    ([("X-Forwarded-For", "6.6.6.6, 127.0.0.1")], "6.6.6.6"),
    ([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "7.7.7.7")], "7.7.7.7"),
]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        # The default: no proxy is trusted, whatever uvicorn's environment variable says.
        pytest.param([], {"FORWARDED_ALLOW_IPS": "*"}, "127.0.0.1", id="default-env-star"),
        # Proxy headers on, but only from a proxy that is not this client.
        pytest.param(
            ["--proxy-headers", "--forwarded-allow-ips", "10.1.2.3"],
            {"FORWARDED_ALLOW_IPS": "*"},
            "127.0.0.1",
            id="other-proxy-env-star",
        ),
        # Behind a trusted proxy the forwarded address is the client's.
        pytest.param(
            ["--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"], {}, "forwarded", id="proxy"
        ),
    ],
)
def test_x_forwarded_for_counts_only_from_a_configured_proxy(
    start_server: StartServer,
    model_dir: Path,
    args: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    server = start_server([str(model_dir), *args], env={"MODELPORT_ADMIN_TOKEN": ADMIN, **env})
    server.wait_ready()
    wanted: dict[str, str] = {}
    for index, (headers, forwarded) in enumerate(SPOOFS):
        for request_id in predict_as(server, headers, f"spoof{index}"):
            wanted[request_id] = forwarded if expected == "forwarded" else expected
    assert logged_clients(server, list(wanted)) == wanted


def test_workers_get_the_deadlines_and_ignore_forwarded_for(
    start_server: StartServer, model_dir: Path
) -> None:
    # Workers are separate processes built from a pickled uvicorn config: the protocol
    # and the proxy settings must reach them too.
    server = start_server(
        [str(model_dir), "--workers", "2", "--header-timeout", str(HEADER_TIMEOUT)],
        env={"MODELPORT_ADMIN_TOKEN": ADMIN, "FORWARDED_ALLOW_IPS": "*"},
    )
    server.wait_ready()
    for _ in range(4):  # the kernel spreads connections over both workers
        with connect(server) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\n")
            started = time.monotonic()
            received = read_until_closed(sock)
            assert_closed_by_deadline(started, HEADER_TIMEOUT)
        assert_408(received, "header_timeout")
    ids = predict_as(server, [("X-Forwarded-For", "6.6.6.6")], "workers")
    assert logged_clients(server, ids) == dict.fromkeys(ids, "127.0.0.1")
