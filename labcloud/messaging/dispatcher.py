"""Find the endpoint method a request names, as oslo.messaging's RPCDispatcher does.

An endpoint is any object; its public methods are callable over RPC as
``method(ctxt, **args)``. An optional ``target`` attribute (a Target) gives its namespace
and version: a request is served by an endpoint of the same namespace whose version has the
same major number and at least the requested minor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labcloud.context import RequestContext
from labcloud.messaging.exceptions import MessagingError, NoSuchMethod
from labcloud.messaging.target import Target


class UnsupportedVersion(MessagingError):
    msg_fmt = "No endpoint for method '%(method)s' supports version %(version)s."


def _compatible(have: str | None, want: str | None) -> bool:
    have_major, _, have_minor = (have or "1.0").partition(".")
    want_major, _, want_minor = (want or "1.0").partition(".")
    return have_major == want_major and int(have_minor or 0) >= int(want_minor or 0)


class Dispatcher:
    def __init__(self, endpoints: Sequence[object], topic: str) -> None:
        self.endpoints = list(endpoints)
        self.topic = topic

    def find(self, method: str, namespace: str | None, version: str | None) -> Callable[..., Any]:
        found_method = False
        if method.startswith("_"):
            raise NoSuchMethod(topic=self.topic, method=method)
        for endpoint in self.endpoints:
            func = getattr(endpoint, method, None)
            if not callable(func):
                continue
            target: Target | None = getattr(endpoint, "target", None)
            have_namespace, have_version = (
                (target.namespace, target.version) if target else (None, None)
            )
            if have_namespace != namespace:
                continue
            found_method = True
            if _compatible(have_version, version):
                return func  # type: ignore[no-any-return]  # getattr on an arbitrary endpoint
        if found_method:
            raise UnsupportedVersion(method=method, version=version)
        raise NoSuchMethod(topic=self.topic, method=method)

    def dispatch(
        self,
        ctxt: RequestContext,
        method: str,
        args: Mapping[str, Any],
        *,
        namespace: str | None = None,
        version: str | None = None,
    ) -> Any:
        return self.find(method, namespace, version)(ctxt, **args)
