"""Serve an ASGI app with uvicorn in a thread, on a socket bound before the thread starts,
so the port is known (and taken) at once, and stop it cleanly.

uvicorn's own ``Server.serve`` wakes ten times a second to look for a stop request and
renew the ``Date`` header; a cloud has five API servers, so that alone kept an idle notebook
kernel busy. Here the server's thread sleeps on an asyncio event until it is told to stop,
and the ``Date`` header is renewed when bytes arrive on a connection, if it is a second old
or more, before uvicorn reads a request from them: every response is dated to the second,
and an open kept-alive connection with nothing on it wakes nothing. ``stop()`` is split in
two (``request_stop`` then ``join``), so a cloud stops all its servers at once instead of
one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import uvicorn

DATE_REFRESH = 1.0  # seconds: the Date header's resolution
# seconds an idle kept-alive connection stays open. Longer than the clients keep theirs
# (httpx: 5 s), so the client always closes first: with uvicorn's default, also 5 s, a busy
# cloud had the server close a connection as a client sent a request on it (the request
# failed with "connection reset by peer", and its build stayed in BUILD).
KEEP_ALIVE = 60
LOG = logging.getLogger(__name__)
CLOSE_POLL = 0.05  # seconds between looks for connections to close while stopping


class ApiServer:
    """``ApiServer(app, "127.0.0.1", 0).start()`` serves on a free port; ``.url`` says which.

    The socket is bound at construction, so a cloud can learn every service's URL (for the
    catalog) before it builds the apps: ``ApiServer(None, ...)`` then ``start(app)``.
    """

    def __init__(
        self, app: Any = None, host: str = "127.0.0.1", port: int = 0, *, name: str = ""
    ) -> None:
        self.name = name or "api"
        self.app = app
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
        # listening socket says TCP. Without it, Nagle's algorithm and delayed ACKs add 40 ms
        # to every request on a kept-alive connection.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None  # set to stop the server (its thread waits)
        self._dated = 0.0  # time.monotonic() of the Date header's last renewal
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"http-{self.name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to start(), which raises it in the caller
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        assert self._server is not None
        server = self._server
        server.config.load()
        server.config.http_protocol_class = _dated(  # type: ignore[assignment]
            server.config.http_protocol_class, self._date_if_stale
        )
        server.lifespan = server.config.lifespan_class(server.config)
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        await server.startup(sockets=[self._sock])
        self._renew_date()
        self._ready.set()
        await self._stop.wait()  # nothing to do between requests: wait to be stopped
        await _shut_down(server, self._sock)

    def _renew_date(self) -> None:
        """What uvicorn's ``on_tick`` does once a second: the Date (and Server) headers."""
        assert self._server is not None
        config = self._server.config
        date = [(b"date", formatdate(time.time(), usegmt=True).encode())]
        headers = (date if config.date_header else []) + config.encoded_headers
        self._server.server_state.default_headers = headers
        self._dated = time.monotonic()

    def _date_if_stale(self) -> None:
        """Bytes came on a connection (in the server's thread, before uvicorn parses them):
        the Date its response will carry renewed if it is a second old or more."""
        if time.monotonic() - self._dated >= DATE_REFRESH:
            self._renew_date()

    def _stop_now(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def start(self, app: Any = None, timeout: float = 10.0) -> ApiServer:
        self.app = app if app is not None else self.app
        if self.app is None:
            raise ValueError(f"{self.name}: nothing to serve")
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE,
        )
        self._server = uvicorn.Server(config)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None or not self._thread.is_alive():
            raise RuntimeError(f"{self.name} did not start on {self.url}") from self._error
        return self

    def request_stop(self) -> None:
        """Ask the server to stop (it finishes the requests in flight); ``join`` waits."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._stop_now)

    def join(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        if self._thread.is_alive():  # a request still in flight: say where it waits
            LOG.warning(
                "%s still answers a request %.0f s after it was asked to stop:\n%s",
                self.name,
                timeout,
                _worker_stacks(),
            )
        self._sock.close()

    def stop(self) -> None:
        self.request_stop()
        self.join()


def _dated(protocol: Callable[..., Any], date: Callable[[], None]) -> Callable[..., Any]:
    """uvicorn's protocol class, each connection's protocol calling ``date()`` before it
    takes the bytes that came (a request's headers among them)."""

    def make(*args: Any, **kwargs: Any) -> Any:
        connection = protocol(*args, **kwargs)
        received = connection.data_received

        def data_received(data: bytes) -> None:
            date()
            received(data)

        connection.data_received = data_received  # asyncio looks it up at each read
        return connection

    return make


async def _shut_down(server: uvicorn.Server, sock: socket.socket) -> None:
    """uvicorn's graceful shutdown, and every connection told to close as soon as it is
    idle, also one that joins meanwhile. uvicorn asks only the connections it has when it
    starts; asyncio makes the protocol of a connection it accepted just before that a few
    loop turns later, so such a connection served its request as if nothing were stopping,
    then stayed open for its client's next one (KEEP_ALIVE, a minute), and the server with
    it (seen on a busy machine: neutron-server still up 15 s after a cloud stopped)."""
    stopping = asyncio.ensure_future(server.shutdown(sockets=[sock]))
    told: set[Any] = set()  # uvicorn tells them too: telling twice is harmless
    while not stopping.done():
        for connection in set(server.server_state.connections) - told:
            connection.shutdown()  # idle: closed now; busy: closed after its response
            told.add(connection)
        await asyncio.wait({stopping}, timeout=CLOSE_POLL)
    stopping.result()


def _worker_stacks() -> str:
    """Where the threads that run request handlers (AnyIO's workers) are, right now."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(
        f"{names.get(ident)}:\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
        if names.get(ident) == "AnyIO worker thread"
    )
