"""Token validation, as keystonemiddleware does it in front of every OpenStack API.

Each request's ``X-Auth-Token`` is checked with identity (``GET /v3/auth/tokens``, the
service's own token as the caller, the user's as the subject): the seed's steps 4–5, 20, 23
and 26. Like keystonemiddleware, each service remembers a token it validated for a few
minutes (``TokenCache``; ``Settings.token_cache_time = 0`` turns that off): the first use of
a token at a service asks keystone, later ones do not, and the trace says which (a cached
validation is its step marked ``cached``; keystone sees no request). Revocations reach the
caches at once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from labcloud.context import RequestContext, new_request_id
from labcloud.exceptions import Forbidden, LabCloudError, Unauthorized
from labcloud.rest.client import ServiceClient
from labcloud.rest.middleware import RequestIdMiddleware
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StepEvent
from labcloud.trace.flow import flow_step, validation_step

LOG = logging.getLogger(__name__)


class KeystoneUnavailable(LabCloudError):
    """keystone could not say whether a token is good (it answered 5xx, or not at all): a
    503, as keystonemiddleware answers then, never a 401 that would blame the token."""

    msg_fmt = "The Keystone service is temporarily unavailable."
    code = 503


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


# Fernet and UUID tokens are made of these; anything else cannot be one (and an HTTP client
# could not even send it on to keystone)
TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")
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


@dataclass(frozen=True)
class ServiceCredentials:
    """A service's own account (keystonemiddleware's ``[keystone_authtoken]`` username and
    password): a user with the ``service`` role on the ``service`` project."""

    user: str
    password: str
    project: str = "service"


class ServiceToken:
    """The service's own token, got by logging in and renewed before it runs out."""

    def __init__(self, identity: ServiceClient, credentials: ServiceCredentials) -> None:
        self.identity = identity
        self.credentials = credentials
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0  # time.monotonic()

    def get(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or not self._token or time.monotonic() >= self._renew_at:
                self._login()
            return self._token

    def log_in_soon(self) -> threading.Thread:
        """Log in now, in a thread of its own, so the service's first request finds its token
        made (a real ``POST /v3/auth/tokens``, traced as any other): the in-kernel cloud's APIs
        do it at start. A failure only logs: the first ``get()`` then logs in itself."""

        def log_in() -> None:
            try:
                self.get()
            except Exception as exc:  # keystone down or stopping: the first use asks again
                LOG.warning("%s could not log in yet: %r", self.credentials.user, exc)

        thread = threading.Thread(target=log_in, name=f"{self.credentials.user}-login", daemon=True)
        thread.start()
        return thread

    def _login(self) -> None:
        c = self.credentials
        user = {"name": c.user, "domain": {"id": "default"}, "password": c.password}
        scope = {"project": {"name": c.project, "domain": {"id": "default"}}}
        identity = {"methods": ["password"], "password": {"user": user}}
        body = {"auth": {"identity": identity, "scope": scope}}
        answer = self.identity.post("/v3/auth/tokens?nocatalog", json=body, user=c.user)
        if answer.status_code >= 500:
            raise KeystoneUnavailable()
        if answer.status_code != 201:
            raise Unauthorized(f"{c.user} could not log in to keystone ({answer.status_code})")
        token = answer.json()["token"]
        issued, expires = (_parse_time(token[k]) for k in ("issued_at", "expires_at"))
        life = (expires - issued).total_seconds()
        # renew a quarter of its life (at most a minute) before it runs out
        self._renew_at = time.monotonic() + life - min(60.0, life / 4)
        self._token = answer.headers["X-Subject-Token"]


def _steps_followed(bus: TraceBus | None) -> bool:
    return bus is not None and bus.wants(StepEvent)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class KeystoneValidator:
    """Validates tokens as keystonemiddleware does: from its ``cache`` when it can, else by
    asking identity (``GET /v3/auth/tokens``) with its ``service_token`` as the caller and
    the user's token as the subject (without one, the user's token validates itself).

    With a ``bus``, each validation is the seed step ``service`` performs (nova-api's 4,
    glance-api's 20 ...), reported before keystone is asked, or marked ``cached``.
    """

    def __init__(
        self,
        identity: ServiceClient,
        cache: TokenCache | None = None,
        *,
        service_token: ServiceToken | None = None,
        bus: TraceBus | None = None,
        service: str = "",
    ) -> None:
        self.identity = identity
        self.cache = cache
        self.service_token = service_token
        self.bus = bus
        self.service = service
        self.step = validation_step(service)

    def cached(self, token: str) -> AuthInfo | None:
        """The token's validation from the cache when nobody follows the validation step
        (it would report nothing and no breakpoint could hold it); else None: ``validate``."""
        if self.cache is None or (self.step is not None and _steps_followed(self.bus)):
            return None
        return self.cache.get(token)

    def validate(self, token: str) -> AuthInfo:
        request_id = current_request_id()
        info = self.cache.get(token) if self.cache is not None else None
        if self.step is not None:
            flow_step(self.bus, self.step, request_id, cached=info is not None)
        if info is not None:
            return info
        info = self._ask(token, request_id)
        if self.cache is not None:
            self.cache.put(info)
        return info

    def _ask(self, token: str, request_id: str) -> AuthInfo:
        answer = self._get(token, request_id)
        if answer.status_code == 401 and self.service_token is not None:  # ours ran out
            answer = self._get(token, request_id, renew=True)
        if answer.status_code >= 500:
            raise KeystoneUnavailable()
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

    def _get(self, token: str, request_id: str, *, renew: bool = False) -> httpx.Response:
        try:
            caller = token if self.service_token is None else self.service_token.get(renew=renew)
            return self.identity.get(
                "/v3/auth/tokens?nocatalog",
                token=caller,
                headers={"X-Subject-Token": token},
                request_id=request_id,
            )
        except httpx.HTTPError as exc:
            raise KeystoneUnavailable() from exc


def require_token(
    validator: TokenValidator,
) -> Callable[[Request], Coroutine[Any, Any, RequestContext]]:
    """A FastAPI dependency: the request's context, or 401 when its token is bad or missing."""

    async def dependency(request: Request) -> RequestContext:
        token = request.headers.get("X-Auth-Token")
        if not token or not TOKEN_CHARACTERS.fullmatch(token):  # a token is printable ASCII
            raise Unauthorized("The request you have made requires authentication.")
        # from the cache on the event loop when nobody follows the validation step; else in
        # a worker thread, even from the cache: a breakpoint on the validation step holds
        # that thread, never the server's event loop
        fast: Callable[[str], AuthInfo | None] | None = getattr(validator, "cached", None)
        info = fast(token) if fast is not None else None
        if info is None:
            info = await run_in_threadpool(validator.validate, token)
        return info.context(request.headers.get("X-OpenStack-Request-ID") or _request_id.get())

    return dependency


def require_admin(ctxt: RequestContext) -> RequestContext:
    if not ctxt.is_admin:
        raise Forbidden()
    return ctxt


_request_id: ContextVar[str] = ContextVar("labcloud_request_id", default="")


def current_request_id() -> str:
    """The id of the request being served (set by install_request_id)."""
    return _request_id.get()


def install_request_id(app: FastAPI) -> None:
    """Give each request an id (the caller's ``X-OpenStack-Request-ID``, or a new one), echo
    it as OpenStack does, and remember it while the request is served."""
    app.add_middleware(RequestIdMiddleware, var=_request_id, new_id=new_request_id)
