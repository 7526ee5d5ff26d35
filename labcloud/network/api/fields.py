"""neutron's ``fields`` query parameter: ``GET /v2.0/ports?fields=id&fields=mac_address``
answers each resource with those attributes only (openstacksdk and Horizon ask for a few
to keep lists small). One ASGI layer over every GET of the API, as neutron's base
controller strips every attribute not asked for after policy has seen them all; an
attribute no resource has is simply absent, as in neutron.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from labcloud.rest.middleware import ASGIApp, Message, Receive, Scope, Send


def pick(body: Any, fields: set[str]) -> Any:
    """Each resource of ``{"ports": [...]}`` or ``{"port": {...}}`` with only ``fields``
    (the envelope's other keys, ``ports_links`` say, are kept).

    >>> pick({"port": {"id": "p", "name": "n", "mac_address": "m"}}, {"id", "name"})
    {'port': {'id': 'p', 'name': 'n'}}
    """
    if not isinstance(body, dict):
        return body
    picked: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict) and not key.endswith("_links"):
            picked[key] = {k: v for k, v in value.items() if k in fields}
        elif isinstance(value, list) and not key.endswith("_links"):
            picked[key] = [
                {k: v for k, v in item.items() if k in fields} if isinstance(item, dict) else item
                for item in value
            ]
        else:
            picked[key] = value
    return picked


class FieldsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope.get("query_string"):
            await self.app(scope, receive, send)  # nova-compute's POST of a port, say
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        fields = {f for f in query.get("fields", []) if f}
        if not fields:
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 200:
                body = json.dumps(pick(json.loads(body), fields)).encode()
            headers = [(k, v) for k, v in start.get("headers", ()) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)
