"""An idle API server sleeps, yet the first request after a quiet spell has today's Date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from fastapi import FastAPI

from labcloud.rest.server import ApiServer

STALE = [(b"date", b"Thu, 01 Jan 1970 00:00:00 GMT")]


def test_a_connection_after_a_quiet_spell_gets_the_current_date(ping_app: FastAPI) -> None:
    api = ApiServer(ping_app, "127.0.0.1", 0, name="test").start()
    try:
        assert api._server is not None
        # as if it had slept a minute with no connection: no tick renewed the header since
        api._server.server_state.default_headers = list(STALE)
        api._dated -= 60
        with httpx.Client() as client:
            answer = client.get(api.url + "/ping")
        assert answer.status_code == 200
        date = parsedate_to_datetime(answer.headers["date"])
        assert abs((datetime.now(UTC) - date).total_seconds()) < 5
    finally:
        api.stop()


def test_a_request_on_a_kept_alive_connection_after_a_quiet_spell_gets_the_current_date(
    ping_app: FastAPI,
) -> None:
    """The connection stays open through the quiet spell, and nothing ticks meanwhile: the
    Date is renewed when the next request's bytes arrive, before uvicorn reads them."""
    api = ApiServer(ping_app, "127.0.0.1", 0, name="test").start()
    try:
        assert api._server is not None
        with httpx.Client() as client:
            assert client.get(api.url + "/ping").status_code == 200
            assert len(api._server.server_state.connections) == 1
            api._server.server_state.default_headers = list(STALE)
            api._dated -= 60
            answer = client.get(api.url + "/ping")
            assert len(api._server.server_state.connections) == 1  # the same connection
        assert answer.status_code == 200
        date = parsedate_to_datetime(answer.headers["date"])
        assert abs((datetime.now(UTC) - date).total_seconds()) < 5
    finally:
        api.stop()
