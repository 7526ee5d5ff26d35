from __future__ import annotations

import pytest
from fastapi import FastAPI


@pytest.fixture
def ping_app() -> FastAPI:
    """The smallest API: GET /ping answers {"pong": "yes"}."""
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app
