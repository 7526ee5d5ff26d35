"""The FastAPI app factory every labcloud REST API is built with.

It installs one translation from errors to HTTP answers: labcloud's exceptions carry their
status code; malformed JSON and schema violations become 400 (FastAPI's default is 422,
which no OpenStack API answers), as does a body that is not JSON (where the project
reads it at all: content_type.py answers 415 where nova and cinder do); a database error
the validation let through 400 or 409; a database that cannot be reached 503 (never a 500:
clients retry, and the API recovers by itself); unknown routes 404; anything unexpected a
logged 500 that keeps the client's connection open. Bodies over ``max_body_size`` get 413,
as oslo.middleware's sizelimit answers. The body has the owning project's shape (see
errors.py).
"""

from __future__ import annotations

import json
import logging
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from labcloud.exceptions import LabCloudError
from labcloud.rest.content_type import RULES, ContentTypeMiddleware
from labcloud.rest.errors import STYLES, ErrorBody, database_error
from labcloud.rest.middleware import BodyLimitMiddleware, CatchAllMiddleware, Scope

LOG = logging.getLogger(__name__)

MAX_REQUEST_BODY_SIZE = 114688  # bytes: oslo.middleware's default max_request_body_size
# bodies that are data, not JSON, and are streamed: glance's image upload and stage
STREAMED = {"glance": re.compile(r"/v2/images/[^/]+/(file|stage)")}
JSON_TYPES = re.compile(r"application/([\w.-]+\+)?json|application/[\w.-]*json-patch")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"Malformed request body: {err.get('ctx', {}).get('error', 'invalid JSON')}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "Invalid input for this request. " + "; ".join(parts)


def _not_json(request: Request, exc: RequestValidationError) -> bool:
    """The body was refused because it was sent as something else than JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    in_body = any(err.get("loc", ("",))[0] == "body" for err in exc.errors())
    return in_body and bool(content_type) and not JSON_TYPES.fullmatch(content_type)


def create_app(
    title: str, project: str, *, version: str = "", max_body_size: int = MAX_REQUEST_BODY_SIZE
) -> FastAPI:
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
        if _not_json(request, exc):  # nova's words; labcloud answers 400 in every project
            return answer(400, "HTTPBadRequest", "Unsupported Content-Type: the body is JSON.")
        return answer(400, "HTTPBadRequest", _validation_message(exc))

    @app.exception_handler(json.JSONDecodeError)
    async def bad_json(request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return answer(400, "HTTPBadRequest", f"Malformed request body: {exc}")

    @app.exception_handler(StatementError)
    @app.exception_handler(OverflowError)
    async def database(request: Request, exc: Exception) -> JSONResponse:
        answered = database_error(exc)
        if answered is None:
            raise exc  # the cloud's fault: a logged 500
        why = "the database is unavailable" if answered[0] == 503 else "a value it refused"
        LOG.warning("%s %s: %s: %s", request.method, request.url.path, why, exc)
        return answer(*answered)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"The resource could not be found: {request.url.path}"
        response = answer(exc.status_code, type(exc).__name__, message)
        response.headers.update(exc.headers or {})
        return response

    def crashed(scope: Scope, exc: Exception) -> JSONResponse:
        LOG.error("%s %s failed", scope["method"], scope["path"], exc_info=exc)
        return answer(500, "InternalServerError", f"Unexpected error: {type(exc).__name__}")

    too_large = answer(
        413, "RequestEntityTooLarge", f"Request is too large (over {max_body_size} bytes)."
    )
    streamed = STREAMED.get(project)
    rule = RULES.get(project)
    if rule is not None:  # before the routes read the body (content_type.py)
        app.add_middleware(
            ContentTypeMiddleware,
            rule=rule,
            skip=lambda scope: streamed is not None and bool(streamed.fullmatch(scope["path"])),
        )
    app.add_middleware(CatchAllMiddleware, crashed=crashed)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=max_body_size,
        too_large=too_large,
        streamed=lambda scope: streamed is not None and bool(streamed.fullmatch(scope["path"])),
    )
    return app


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """``app.include_router(router)`` for a router whose routes carry their whole path and
    dependencies: its routes go into the app's own list. FastAPI 0.165 matches an included
    router at each request by walking a copy of each of its routes (and every included
    router before it), twice over the one that matches; the app's own routes are matched
    once, in the same order, as Starlette matches them."""
    routes: list[BaseRoute] = list(router.routes)
    if any(not isinstance(route, APIRoute) for route in routes):
        raise TypeError("include_routes takes a router of API routes only")
    app.router.routes.extend(routes)
