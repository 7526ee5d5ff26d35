"""Plain ASGI middleware: a request id per request, and headers added to every answer.

Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) runs each request through an
extra task and memory stream; two of them were a measurable part of every request's cost.
These wrap ``send`` instead and keep the request in its own task, so a context variable set
here is seen by the route (and by the worker thread a sync route runs in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
OnRequest = Callable[[Scope], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str:
    """A request header's value ("" when absent); ``name`` in lower case."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class RequestIdMiddleware:
    """Serve each request with an id (the caller's ``X-OpenStack-Request-ID`` or a new one)
    in ``var``, and echo it in the answer, as OpenStack's request-id middleware does."""

    def __init__(self, app: ASGIApp, var: ContextVar[str], new_id: Callable[[], str]) -> None:
        self.app, self.var, self.new_id = app, var, new_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = header(scope, b"x-openstack-request-id") or self.new_id()
        token = self.var.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-openstack-request-id", rid.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.var.reset(token)


class HeadersMiddleware:
    """Add fixed ``headers`` to every answer; ``on_request`` runs first (if given)."""

    def __init__(
        self, app: ASGIApp, headers: dict[str, str], on_request: OnRequest | None = None
    ) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.on_request = on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.on_request is not None:
            await self.on_request(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestTooLarge(HTTPException):
    """A request body over the limit, raised from ``receive`` while the app reads it: an
    HTTPException, which FastAPI's body parsing lets through (413 in the project's shape)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request is too large (over {limit} bytes).")


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with ``too_large`` (413), as oslo.middleware's
    sizelimit (``max_request_body_size``) does in front of nova, neutron, cinder and keystone.

    A declared ``Content-Length`` over the limit is answered before the app runs; a chunked
    body is counted as the app reads it, and ``RequestTooLarge`` raised once it passes the
    limit. Requests for which ``streamed(scope)`` holds (glance's image data) are not limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        too_large: ASGIApp,
        streamed: Callable[[Scope], bool] = lambda _scope: False,
    ) -> None:
        self.app, self.limit, self.too_large, self.streamed = app, limit, too_large, streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.streamed(scope):
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        if length.isdigit() and int(length) > self.limit:
            await self.too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise RequestTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


class CatchAllMiddleware:
    """Answer an unexpected exception with ``crashed`` (a 500 in the project's shape) and
    keep the connection: Starlette's ServerErrorMiddleware re-raises after answering, and
    uvicorn then closes the client's keep-alive connection."""

    def __init__(self, app: ASGIApp, crashed: Callable[[Scope, Exception], ASGIApp]) -> None:
        self.app, self.crashed = app, crashed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # half an answer is out: only closing the connection can end it
                raise
            await self.crashed(scope, exc)(scope, receive, send)
