"""An API server stops promptly, whatever its clients' connections are doing."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from fastapi import FastAPI

from labcloud.rest import server as rest_server
from labcloud.rest.server import ApiServer


def test_a_kept_alive_idle_connection_does_not_hold_up_the_stop(ping_app: FastAPI) -> None:
    api = ApiServer(ping_app, "127.0.0.1", 0, name="test").start()
    client = socket.create_connection((api.host, api.port))
    try:
        client.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
        assert b"200 OK" in client.recv(4096)  # answered; the connection stays open
        started = time.monotonic()
        api.stop()
        assert not api._thread.is_alive()
        assert time.monotonic() - started < rest_server.KEEP_ALIVE / 2  # not its keep-alive
    finally:
        client.close()


class _Connection:
    def __init__(self, state: _State) -> None:
        self.state, self.told = state, False

    def shutdown(self) -> None:  # an idle connection closes when told
        self.told = True
        self.state.connections.discard(self)


class _State:
    def __init__(self) -> None:
        self.connections: set[Any] = set()


class _Uvicorn:
    """uvicorn.Server's shutdown as it is: it tells the connections it has, then waits
    for all of them to close; a connection whose protocol asyncio makes meanwhile (accepted
    just before) is not told."""

    def __init__(self) -> None:
        self.server_state = _State()
        self.early = _Connection(self.server_state)
        self.late = _Connection(self.server_state)
        self.server_state.connections.add(self.early)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for connection in list(self.server_state.connections):
            connection.shutdown()
        self.server_state.connections.add(self.late)  # joins after uvicorn looked
        while self.server_state.connections:
            await asyncio.sleep(0.01)


def test_a_connection_that_joins_while_the_server_stops_is_told_to_close_too() -> None:
    fake = _Uvicorn()
    with socket.socket() as sock:
        asyncio.run(asyncio.wait_for(rest_server._shut_down(fake, sock), 5))  # type: ignore[arg-type]
    assert fake.early.told
    assert fake.late.told  # without it, the stop waited for its keep-alive to run out
