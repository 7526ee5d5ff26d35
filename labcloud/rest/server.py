"""Serve an ASGI app with uvicorn in a thread, on a socket bound before the thread starts,
so the port is known (and taken) at once, and stop it cleanly."""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn


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
        self._thread = threading.Thread(target=self._run, name=f"http-{self.name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        assert self._server is not None
        self._server.run(sockets=[self._sock])

    def start(self, app: Any = None, timeout: float = 10.0) -> ApiServer:
        self.app = app if app is not None else self.app
        if self.app is None:
            raise ValueError(f"{self.name}: nothing to serve")
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = server = uvicorn.Server(config)
        self._thread.start()
        pause = threading.Event()
        for _ in range(int(timeout * 100)):
            if server.started or not self._thread.is_alive():
                break
            pause.wait(0.01)  # uvicorn offers no event to wait on; poll its flag briefly
        if not server.started:
            raise RuntimeError(f"{self.name} did not start on {self.url}")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()
