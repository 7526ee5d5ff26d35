"""The HTTP client one service uses to reach another's REST API, with the user's token.

Every request becomes an HttpEvent on the trace bus (who asked whom, what, the answer, how
long), which is how students see steps 19–27 of the boot flow cross service boundaries.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from typing import Any

import httpx

from labcloud.exceptions import Unauthorized
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import HttpEvent, Origin


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: httpx builds a new one per client
    by default, loading the whole CA bundle each time (24 ms and 0.8 MB per client, most of
    a 100-host cloud's start-up), even for http:// URLs that never use it."""
    return httpx.create_ssl_context()


@functools.lru_cache(maxsize=1024)
def parsed_url(url: str) -> httpx.URL:
    """``url`` parsed (httpx.URL is immutable): a build asks for the same few URLs over and
    over (its image, ``/v2.0/ports``), and parsing one cost a tenth of a request's CPU."""
    return httpx.URL(url)


class ServiceClient:
    """``ServiceClient(url, source="nova-compute", target="glance-api", bus=bus)``."""

    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        target: str,
        bus: TraceBus | None = None,
        origin: Origin | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.target = target
        self.bus = bus
        self.origin = origin or Origin()
        self.timeout = timeout
        self._transport: httpx.HTTPTransport | None = None  # made at the first request
        self._lock = threading.Lock()
        # what every request carries, built once: httpx.Client's own defaults, and who is
        # asking in User-Agent, as OpenStack's clients name themselves there
        self._headers = httpx.Headers(
            {
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
                "Connection": "keep-alive",
                "User-Agent": f"labcloud ({source})",
            },
            encoding="ascii",
        )
        self._timeout = httpx.Timeout(timeout).as_dict()

    @property
    def transport(self) -> httpx.HTTPTransport:
        """The connection pool, made on first use: a cloud makes dozens of clients (several
        per compute host) that a short lab never uses."""
        if self._transport is None:
            with self._lock:
                if self._transport is None:
                    self._transport = httpx.HTTPTransport(verify=tls_context())
        return self._transport

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        user: str = "",
        request_id: str = "",
        **kwargs: Any,
    ) -> httpx.Response:
        """One request on the pool's kept-alive connections, its answer read. The request
        goes straight to httpx's transport, as httpx.Client would send it (same headers)
        without what no service here uses (cookies, auth flows, redirects, event hooks):
        httpx.Client's merging of URLs, headers and cookies for each request cost as much
        CPU as the HTTP exchange itself."""
        extra = headers or {}
        if any(not value.isascii() for value in (token or "", *extra.values())):
            # httpx cannot send it (UnicodeEncodeError); no token is anything but ASCII
            raise Unauthorized("The request you have made requires authentication.")
        all_headers = self._headers.copy()
        for key, value in extra.items():
            all_headers[key] = value
        if token:
            all_headers["X-Auth-Token"] = token
        if request_id and "X-OpenStack-Request-ID" not in all_headers:
            all_headers["X-OpenStack-Request-ID"] = request_id
        start = time.perf_counter()
        request = httpx.Request(
            method,
            parsed_url(self.base_url + path),
            headers=all_headers,
            extensions={"timeout": self._timeout},
            **kwargs,
        )
        response = self.transport.handle_request(request)
        response.request = request
        try:
            response.read()  # and the connection goes back to the pool
        except BaseException:
            response.close()
            raise
        if self.bus is not None and self.bus.active:
            self.bus.emit(
                HttpEvent(
                    method=method,
                    url=f"{self.base_url}{path}",
                    status=response.status_code,
                    source=self.source,
                    target=self.target,
                    duration_ms=(time.perf_counter() - start) * 1e3,
                    user=user,
                    request_id=request_id,
                    host=self.origin.host,
                    process=self.origin.process,
                )
            )
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
