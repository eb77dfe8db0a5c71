"""How uvicorn runs the app: read deadlines, the connection bound and proxy headers.

uvicorn (0.55) times out only idle keep-alive connections. A client that sends part of
its headers, or declares a body and sends part of it, holds a socket and a slot of
``limit_concurrency`` for as long as it likes (slowloris); and one CRLF sent on an idle
keep-alive connection even cancels uvicorn's keep-alive timer for good. So the server's
protocol is uvicorn's httptools protocol plus one watchdog timer per connection:

- ``header_timeout``: from the connection's start (or, on keep-alive, the next request's
  first byte) to the end of the headers; then 408 and close (a connection that sent
  nothing at all is closed without an answer, as an idle keep-alive one is).
- ``body_timeout``: the longest the body may stall; any bytes restart the clock, so big
  uploads pass as long as they keep coming. Time the server itself is not reading (the
  app has not asked for more yet, or owes ``100 Continue``) is not the client's.
- between requests, uvicorn's ``keep_alive_timeout``; this timer is the backstop for when
  stray CRLFs have cancelled uvicorn's (it ends the connection later, but it does).

One timer per connection, not one per request: the parser callbacks only note the phase
and the time of the last progress, and the timer, when it fires, either acts or sets
itself for the deadline those notes give.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Final, cast

import orjson
from starlette.types import Scope
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from modelport.config import Settings

__all__ = ["DeadlineProtocol", "server_options"]

_base = HttpToolsProtocol

log = logging.getLogger(__name__)

# Where a connection is, each with its own deadline (see _limit_of).
_WAITING: Final = 0  # connected, not one byte yet
_HEADERS: Final = 1  # a request has begun; its headers are not complete
_BODY: Final = 2  # headers complete; the body is coming, or is in and the app has it
_IDLE: Final = 3  # the response is out; keep-alive, waiting for the next request
#: How often a busy or paused connection is looked at again, in seconds.
_RECHECK: Final = 1.0
#: On shutdown, how long a connection whose request has not fully arrived may take to
#: send it, in seconds.
_SHUTDOWN_GRACE: Final = 1.0


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body and keep-alive deadlines."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
        body_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._phase: int = _WAITING
        #: Loop time the current phase began or last made progress.
        self._since = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        #: Shutting down: the request on its way is the connection's last.
        self._last_request = False

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = self.loop.time()
        self._watchdog = self.loop.call_at(self._since + self.header_timeout, self._watch)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """A graceful shutdown (SIGTERM, a recycled worker) closes every connection
        without a request in progress at once. That is right for one idle after an answer,
        but one that was just accepted, or whose request has begun arriving, carries a
        request its client has already sent: closed now, the client would see a reset.
        Such a connection gets its request answered, with ``Connection: close``, or is
        closed if nothing more arrives within a second."""
        waiting = self._phase == _WAITING or (
            self._phase == _HEADERS and (self.cycle is None or self.cycle.response_complete)
        )
        if not waiting or self.transport.is_closing():
            super().shutdown()
            return
        self._last_request = True
        self.loop.call_later(_SHUTDOWN_GRACE, self._close_unless_asked)

    def _close_unless_asked(self) -> None:
        if self._phase in (_WAITING, _HEADERS) and not self.transport.is_closing():
            super().shutdown()

    def handle_websocket_upgrade(self) -> None:
        # The connection now belongs to the WebSocket protocol and its own timeouts.
        self._stop_watching()
        super().handle_websocket_upgrade()

    # Parser callbacks: only notes, no timers (the base's methods are called directly:
    # these run for every request, and super() costs a little each time)

    def on_message_begin(self) -> None:
        _base.on_message_begin(self)
        # A first request's clock started at connect time: trickling before the first
        # byte does not buy more time.
        if self._phase != _WAITING:
            self._since = self.loop.time()
        self._phase = _HEADERS

    def on_headers_complete(self) -> None:
        _base.on_headers_complete(self)
        if self._last_request and self.cycle is not None:
            self.cycle.keep_alive = False
        self._phase = _BODY
        self._since = self.loop.time()

    def on_body(self, body: bytes) -> None:
        self._since = self.loop.time()
        _base.on_body(self, body)

    # The watchdog. Where a request is once its body is in (with the app, or answered and
    # idle) is read from uvicorn's own request state when the timer fires, not noted on
    # every request.

    def _watch(self) -> None:
        self._watchdog = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if self._phase == _BODY and cycle is not None and not cycle.more_body:
            if not cycle.response_complete:  # the app has it: request_timeout's business
                self._look_again(now)
                return
            # Answered, and no next request yet: keep-alive, which uvicorn's own timer
            # ends, unless a stray CRLF from the client cancelled that timer.
            self._phase, self._since = _IDLE, now
        if self._server_is_waiting():
            self._look_again(now)
            return
        deadline = self._since + self._limit_of(self._phase)
        if now >= deadline:
            self._expire()
            return
        self._watchdog = self.loop.call_at(deadline, self._watch)

    def _look_again(self, now: float) -> None:
        """Not the client's delay: its clock starts afresh, and the timer looks again soon."""
        self._since = now
        self._watchdog = self.loop.call_at(now + _RECHECK, self._watch)

    def _limit_of(self, phase: int) -> float:
        if phase == _BODY:
            return self.body_timeout
        if phase == _IDLE:
            return float(self.timeout_keep_alive)
        return self.header_timeout  # waiting for, or reading, a request's headers

    def _server_is_waiting(self) -> bool:
        """The client cannot send more until the server reads on (or says 100 Continue)."""
        if self.flow.read_paused:
            return True
        return self._phase == _BODY and self.cycle.waiting_for_100_continue

    def _expire(self) -> None:
        phase, cycle = self._phase, self.cycle
        if phase == _HEADERS and (cycle is None or cycle.response_complete):
            self._answer_408(
                f"the request's headers did not arrive within {self.header_timeout:g} s "
                "(header_timeout)",
                request_id=None,
            )
        elif phase == _BODY and not cycle.response_started:
            # Here, not at the top: modelport.api is the whole app, and every `modelport`
            # command imports this module's package; the server has loaded it by now.
            from modelport.api.middleware import request_id_of

            self._answer_408(
                f"the request body stalled: no bytes for {self.body_timeout:g} s (body_timeout)",
                request_id=request_id_of(cast(Scope, cycle.scope)),
            )
            # The app's receive() now says http.disconnect and its send() does nothing,
            # so nothing follows the 408 on the wire.
            cycle.disconnected = True
            cycle.message_event.set()
        # Otherwise nothing was asked (waiting, idle) or a response is on the wire
        # already: another answer would be read as the next request's.
        log.debug("closing %s: phase %d deadline passed", self.client, phase)
        self.transport.close()

    def _answer_408(self, message: str, request_id: str | None) -> None:
        body = orjson.dumps({"error": "request_timeout", "message": message})
        head = [STATUS_LINE[408]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if request_id is not None and request_id != "-":
            head += [b"x-request-id: ", request_id.encode("latin-1"), b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))

    def _stop_watching(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


def server_options(settings: Settings) -> dict[str, Any]:
    """``uvicorn.run`` keyword arguments for deadlines, the connection bound and proxies."""
    return {
        # A partial of a module-level class, not a subclass made here: uvicorn pickles its
        # config into each --workers process, and this pickles (by reference and value).
        "http": functools.partial(
            DeadlineProtocol,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
        ),
        "timeout_keep_alive": settings.keep_alive_timeout,
        # uvicorn answers 503 once open connections >= limit_concurrency, the new one
        # included: one more, so that max_connections are served and the next gets 503.
        "limit_concurrency": settings.max_connections + 1,
        # Both always given: uvicorn's defaults trust X-Forwarded-For from 127.0.0.1 and
        # read FORWARDED_ALLOW_IPS from the environment, so a local client (or a stray
        # variable) could choose the address the prediction log records.
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": list(settings.forwarded_allow_ips),
    }
