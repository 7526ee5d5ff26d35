"""The FastAPI app factory every labcloud REST API is built with.

It installs one translation from errors to HTTP answers: labcloud's exceptions carry their
status code; malformed JSON and schema violations become 400 (FastAPI's default is 422,
which no OpenStack API answers); unknown routes 404; anything unexpected a logged 500. The
body has the owning project's shape (see errors.py).
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from labcloud.exceptions import LabCloudError
from labcloud.rest.errors import STYLES, ErrorBody

LOG = logging.getLogger(__name__)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"Malformed request body: {err.get('ctx', {}).get('error', 'invalid JSON')}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "Invalid input for this request. " + "; ".join(parts)


def create_app(title: str, project: str, *, version: str = "") -> FastAPI:
    """An app whose errors look like ``project``'s (nova, neutron, keystone, glance, cinder)."""
    body: ErrorBody = STYLES[project]
    app = FastAPI(title=title, version=version or "labcloud", docs_url="/docs", redoc_url=None)

    def answer(status: int, kind: str, message: str) -> JSONResponse:
        return JSONResponse(body(status, kind, message), status_code=status)

    @app.exception_handler(LabCloudError)
    async def labcloud_error(request: Request, exc: LabCloudError) -> JSONResponse:
        if exc.code >= 500:
            LOG.error("%s %s failed: %s", request.method, request.url.path, exc)
        return answer(exc.code, type(exc).__name__, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(400, "HTTPBadRequest", _validation_message(exc))

    @app.exception_handler(json.JSONDecodeError)
    async def bad_json(request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return answer(400, "HTTPBadRequest", f"Malformed request body: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"The resource could not be found: {request.url.path}"
        response = answer(exc.status_code, type(exc).__name__, message)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOG.exception("%s %s failed", request.method, request.url.path)
        return answer(500, "InternalServerError", f"Unexpected error: {type(exc).__name__}")

    return app
