"""Token validation, as keystonemiddleware does it in front of every OpenStack API.

Each request's ``X-Auth-Token`` is checked with identity (``GET /v3/auth/tokens``): these
are the seed's steps 4–5, 20, 23 and 26. Like keystonemiddleware, each service remembers a
token it validated for a few minutes (``TokenCache``; ``Settings.token_cache_time = 0``
turns that off): the first use of a token at a service asks keystone, later ones do not,
and the step is reported either way. Revocations reach the caches at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from labcloud.context import RequestContext, new_request_id
from labcloud.exceptions import Forbidden, Unauthorized
from labcloud.rest.client import ServiceClient
from labcloud.trace.bus import TraceBus
from labcloud.trace.flow import emit_step


@dataclass(frozen=True)
class AuthInfo:
    """Who a token belongs to: what identity answered when asked about it."""

    token: str
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]
    expires_at: str

    def context(self, request_id: str | None = None) -> RequestContext:
        return RequestContext(
            user_id=self.user_id,
            project_id=self.project_id,
            user_name=self.user_name,
            project_name=self.project_name,
            roles=self.roles,
            is_admin="admin" in self.roles,
            auth_token=self.token,
            request_id=request_id or new_request_id(),
        )


class TokenValidator(Protocol):
    def validate(self, token: str) -> AuthInfo:
        """Return who the token belongs to, or raise Unauthorized."""

    def cached(self, token: str) -> AuthInfo | None:
        """What ``validate`` would return, if it is known without asking anyone."""


TOKEN_CACHE_TIME = 300.0  # keystonemiddleware's token_cache_time


class TokenCache:
    """Tokens a service validated recently, as keystonemiddleware keeps them.

    An entry lives ``ttl`` seconds or until its token expires, whichever comes first.
    Unlike keystonemiddleware's, this cache hears about revocations (``forget``) from the
    identity service of its cloud, so a revoked token is refused at once everywhere.
    """

    def __init__(self, ttl: float = TOKEN_CACHE_TIME, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[AuthInfo, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> AuthInfo | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if entry[1] <= time.monotonic():
                del self._entries[token]
                return None
            return entry[0]

    def put(self, info: AuthInfo) -> None:
        deadline = time.monotonic() + self.ttl
        if info.expires_at:
            expires = datetime.fromisoformat(info.expires_at.replace("Z", "+00:00"))
            left = (expires - datetime.now(UTC)).total_seconds()
            deadline = min(deadline, time.monotonic() + left)
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[info.token] = (info, deadline)

    def forget(self, token: str | None) -> None:
        """Drop one token (revoked), or all of them (``None``: roles or users changed)."""
        with self._lock:
            if token is None:
                self._entries.clear()
            else:
                self._entries.pop(token, None)


class KeystoneValidator:
    """Validates tokens by asking identity's REST API (the user's token validates itself).

    With a ``cache``, a token is asked about once and then remembered (see TokenCache).
    """

    def __init__(self, identity: ServiceClient, cache: TokenCache | None = None) -> None:
        self.identity = identity
        self.cache = cache

    def cached(self, token: str) -> AuthInfo | None:
        return self.cache.get(token) if self.cache is not None else None

    def validate(self, token: str) -> AuthInfo:
        cached = self.cached(token)
        if cached is not None:
            return cached
        info = self._ask(token)
        if self.cache is not None:
            self.cache.put(info)
        return info

    def _ask(self, token: str) -> AuthInfo:
        answer = self.identity.get(
            "/v3/auth/tokens?nocatalog", token=token, headers={"X-Subject-Token": token}
        )
        if answer.status_code != 200:
            raise Unauthorized("The request you have made requires authentication.")
        body = answer.json()["token"]
        project = body.get("project") or {}
        return AuthInfo(
            token=token,
            user_id=body["user"]["id"],
            user_name=body["user"].get("name", ""),
            project_id=project.get("id", ""),
            project_name=project.get("name", ""),
            roles=tuple(r["name"] for r in body.get("roles", [])),
            expires_at=body.get("expires_at", ""),
        )


def require_token(
    validator: TokenValidator,
) -> Callable[[Request], Coroutine[Any, Any, RequestContext]]:
    """A FastAPI dependency: the request's context, or 401 when its token is bad or missing."""

    async def dependency(request: Request) -> RequestContext:
        token = request.headers.get("X-Auth-Token")
        if not token:
            raise Unauthorized("The request you have made requires authentication.")
        # a cached token needs no I/O: answer on the event loop, skip a worker-thread hop
        info = validator.cached(token)
        if info is None:
            info = await run_in_threadpool(validator.validate, token)
        return info.context(request.headers.get("X-OpenStack-Request-ID") or _request_id.get())

    return dependency


def require_admin(ctxt: RequestContext) -> RequestContext:
    if not ctxt.is_admin:
        raise Forbidden()
    return ctxt


_request_id: ContextVar[str] = ContextVar("labcloud_request_id", default="")
_caller: ContextVar[str] = ContextVar("labcloud_caller", default="")


def current_request_id() -> str:
    """The id of the request being served (set by install_request_id)."""
    return _request_id.get()


def install_request_id(app: FastAPI) -> None:
    """Give each request an id (the caller's ``X-OpenStack-Request-ID``, or a new one), echo
    it as OpenStack does, and remember it and the caller while the request is served."""

    @app.middleware("http")
    async def remember(request: Request, call_next: Any) -> Any:
        rid = request.headers.get("X-OpenStack-Request-ID") or new_request_id()
        tokens = (_request_id.set(rid), _caller.set(request.headers.get("User-Agent", "")))
        try:
            response = await call_next(request)
            response.headers["x-openstack-request-id"] = rid
            return response
        finally:
            _request_id.reset(tokens[0])
            _caller.reset(tokens[1])


class TracedValidator:
    """Wraps a validator: each successful validation is reported as a seed step.

    nova-api's validation is steps 4–5; glance-api's 20, neutron's 23 and cinder-api's 26 when
    nova-compute is the caller (its ServiceClient names itself in User-Agent). The step
    carries the request id, which ties it to the boot it belongs to.
    """

    def __init__(
        self,
        inner: TokenValidator,
        bus: TraceBus | None,
        steps: tuple[int, ...],
        *,
        caller: str = "",
    ) -> None:
        self.inner = inner
        self.bus = bus
        self.steps = steps
        self.caller = caller

    def _report(self) -> None:
        if not self.caller or f"({self.caller})" in _caller.get():
            for step in self.steps:
                emit_step(self.bus, step, request_id=_request_id.get())

    def cached(self, token: str) -> AuthInfo | None:
        info = self.inner.cached(token)
        if info is not None:
            self._report()
        return info

    def validate(self, token: str) -> AuthInfo:
        info = self.inner.validate(token)
        self._report()
        return info
