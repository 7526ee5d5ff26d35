"""What each OpenStack API does with a request body's Content-Type, at the edge.

Each project's WSGI layer decides this before any controller runs, and they differ:

* nova reads any body as JSON when the type is absent, empty or ``text/plain`` (eventlet's
  default), takes ``application/json`` and ``application/vnd.openstack.compute+json``, and
  answers anything else with 415 ``badMediaType`` "Unsupported Content-Type", on any method
  (its ``Request.get_content_type``);
* cinder, with a body, takes ``application/json`` and ``…volume+json`` and answers any other
  named type (``text/plain`` too) with 415 ``badMediaType``;
* neutron and glance read any body as JSON whatever its type (glance's PATCH wants its JSON
  patch types, checked in image/api/images.py; its uploads are data, streamed);
* keystone refuses a body that is not JSON with 400 (rest/app.py's answer).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from fastapi.responses import JSONResponse

from labcloud.rest.errors import nova_body
from labcloud.rest.middleware import ASGIApp, Receive, Scope, Send, header


class Verdict(Enum):
    KEEP = "keep"  # as it came
    AS_JSON = "as JSON"  # the body is read as JSON whatever its type said
    UNSUPPORTED = "415"


# (method, content type or None when the header is absent, whether a body came) -> verdict
Rule = Callable[[str, str | None, bool], Verdict]
NOVA_TYPES = ("application/json", "application/vnd.openstack.compute+json")
CINDER_TYPES = ("application/json", "application/vnd.openstack.volume+json")


def nova(_method: str, content_type: str | None, _body: bool) -> Verdict:
    if content_type in (None, "", "text/plain"):
        return Verdict.AS_JSON
    return Verdict.KEEP if content_type in NOVA_TYPES else Verdict.UNSUPPORTED


def cinder(_method: str, content_type: str | None, body: bool) -> Verdict:
    if not body or content_type is None or content_type in CINDER_TYPES:
        return Verdict.KEEP
    return Verdict.UNSUPPORTED


def any_as_json(method: str, _content_type: str | None, body: bool) -> Verdict:
    return Verdict.AS_JSON if body and method != "PATCH" else Verdict.KEEP


RULES: dict[str, Rule] = {"nova": nova, "cinder": cinder, "neutron": any_as_json,
                          "glance": any_as_json}  # fmt: skip


class ContentTypeMiddleware:
    """Apply ``rule`` before routing; ``skip`` says which requests carry data, not JSON."""

    def __init__(self, app: ASGIApp, rule: Rule, skip: Callable[[Scope], bool]) -> None:
        self.app, self.rule, self.skip = app, rule, skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.skip(scope):
            await self.app(scope, receive, send)
            return
        names = {key for key, _ in scope.get("headers", ())}
        given = header(scope, b"content-type") if b"content-type" in names else None
        content_type = None if given is None else given.split(";")[0].strip().lower()
        length = header(scope, b"content-length")
        body = (length.isdigit() and int(length) > 0) or b"transfer-encoding" in names
        verdict = self.rule(scope["method"], content_type, body)
        if verdict is Verdict.UNSUPPORTED:
            answer = JSONResponse(nova_body(415, "", "Unsupported Content-Type"), 415)
            await answer(scope, receive, send)
            return
        if verdict is Verdict.AS_JSON and b"x-auth-token" in names:
            # without a token keystonemiddleware answers 401 before the body is read;
            # FastAPI would parse it first
            headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"content-type"]
            scope = dict(scope) | {"headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
