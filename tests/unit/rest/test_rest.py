"""The shared REST layer: OpenStack error bodies, token checks, uvicorn in a thread, tracing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from labcloud.context import RequestContext
from labcloud.exceptions import InstanceNotFound, IpAddressExhausted, Unauthorized
from labcloud.rest.app import create_app
from labcloud.rest.auth import AuthInfo, require_token
from labcloud.rest.client import ServiceClient
from labcloud.rest.server import ApiServer
from labcloud.trace import HttpEvent, TraceBus


class Server(BaseModel):
    name: str
    flavorRef: str  # noqa: N815 - nova's field name


class FakeValidator:
    def cached(self, token: str) -> AuthInfo | None:
        return None

    def validate(self, token: str) -> AuthInfo:
        if token != "good":
            raise Unauthorized()
        return AuthInfo(token, "u1", "demo", "p1", "demo", ("member",), "2030-01-01T00:00:00Z")


def build(project: str) -> ApiServer:
    app = create_app("test", project)
    auth = require_token(FakeValidator())

    @app.post("/servers", status_code=202)
    def create(server: Server, ctxt: RequestContext = Depends(auth)) -> dict[str, str]:  # noqa: B008
        return {"name": server.name, "project": ctxt.project_id or ""}

    @app.get("/servers/{server_id}")
    def show(server_id: str) -> None:
        raise InstanceNotFound(instance_id=server_id)

    @app.post("/ports")
    def port() -> None:
        raise IpAddressExhausted(network_id="net1")

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    return ApiServer(app, name=project).start()


@pytest.fixture
def nova() -> Iterator[ApiServer]:
    server = build("nova")
    yield server
    server.stop()


def test_served_on_a_free_port_and_stops(nova: ApiServer) -> None:
    assert nova.port > 0
    assert nova.url == f"http://127.0.0.1:{nova.port}"
    other = build("keystone")
    assert other.port != nova.port
    other.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(other.url + "/servers/x", timeout=2)


def test_token_is_required_and_checked(nova: ApiServer) -> None:
    body = {"name": "vm", "flavorRef": "1"}
    missing = httpx.post(nova.url + "/servers", json=body)
    assert missing.status_code == 401
    assert "unauthorized" in missing.json()
    bad = httpx.post(nova.url + "/servers", json=body, headers={"X-Auth-Token": "bad"})
    assert bad.status_code == 401
    ok = httpx.post(nova.url + "/servers", json=body, headers={"X-Auth-Token": "good"})
    assert ok.status_code == 202
    assert ok.json() == {"name": "vm", "project": "p1"}


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b'{"name": 5}', {"Content-Type": "application/json"}),
        (b"[]", {"Content-Type": "application/json"}),
        (b"name=vm", {"Content-Type": "text/plain"}),  # read as JSON, as nova does
    ],
    ids=["malformed", "wrong-type-and-missing", "not-an-object", "plain-text-not-json"],
)
def test_bad_input_is_400_in_novas_shape(
    nova: ApiServer, content: bytes, headers: dict[str, str]
) -> None:
    answer = httpx.post(
        nova.url + "/servers", content=content, headers=headers | {"X-Auth-Token": "good"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["badRequest"]["code"] == 400
    assert answer.json()["badRequest"]["message"]


def test_domain_errors_carry_their_status(nova: ApiServer) -> None:
    missing = httpx.get(nova.url + "/servers/abc")
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"message": "Instance abc could not be found.", "code": 404}
    }
    assert httpx.post(nova.url + "/ports").json()["conflictingRequest"]["code"] == 409
    assert httpx.get(nova.url + "/no/such/route").json()["itemNotFound"]["code"] == 404


def test_unexpected_errors_are_500_without_internals(nova: ApiServer) -> None:
    answer = httpx.get(nova.url + "/crash")
    assert answer.status_code == 500
    assert answer.json() == {
        "computeFault": {"message": "Unexpected error: RuntimeError", "code": 500}
    }


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (
            "neutron",
            {
                "NeutronError": {
                    "type": "IpAddressExhausted",
                    "detail": "",
                    "message": "No more IP addresses available on network net1.",
                }
            },
        ),
        (
            "keystone",
            {
                "error": {
                    "code": 409,
                    "title": "Conflict",
                    "message": "No more IP addresses available on network net1.",
                }
            },
        ),
        (
            "glance",
            {
                "message": "No more IP addresses available on network net1.",
                "code": "409 Conflict",
                "title": "Conflict",
            },
        ),
    ],
)
def test_each_project_has_its_own_error_shape(project: str, expected: dict[str, object]) -> None:
    server = build(project)
    try:
        assert httpx.post(server.url + "/ports").json() == expected
    finally:
        server.stop()


def test_service_client_traces_each_request(nova: ApiServer) -> None:
    bus = TraceBus()
    log = bus.collect()
    client = ServiceClient(nova.url, source="nova-compute", target="nova-api", bus=bus)
    client.get("/servers/xyz", token="good", request_id="req-1", user="demo")
    client.close()
    (event,) = log
    assert isinstance(event, HttpEvent)
    assert (event.method, event.status, event.source, event.target) == (
        "GET",
        404,
        "nova-compute",
        "nova-api",
    )
    assert event.url == nova.url + "/servers/xyz"
    assert event.request_id == "req-1"
    assert event.duration_ms > 0
    assert event.to_dict()["type"] == "http"


def test_service_client_sends_what_httpx_client_sent() -> None:
    """Straight to httpx's transport, a request still carries httpx.Client's headers, the
    caller's name, token and request id, its query and JSON body; and kept-alive
    connections are reused."""
    app = FastAPI()
    peers: set[int] = set()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        assert request.client is not None
        peers.add(request.client.port)
        return {
            "headers": dict(request.headers),
            "query": dict(request.query_params),
            "body": await request.json(),
        }

    server = ApiServer(app, name="echo").start()
    client = ServiceClient(server.url, source="nova-compute", target="echo")
    try:
        for _ in range(3):
            answer = client.post(
                "/echo", json={"a": 1}, params={"b": "2"}, token="good", request_id="req-9"
            )
    finally:
        client.close()
        server.stop()
    seen = answer.json()
    assert seen["query"] == {"b": "2"}
    assert seen["body"] == {"a": 1}
    headers = seen["headers"]
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["user-agent"] == "labcloud (nova-compute)"
    assert (headers["accept"], headers["accept-encoding"]) == ("*/*", "gzip, deflate")
    assert (headers["x-auth-token"], headers["x-openstack-request-id"]) == ("good", "req-9")
    assert headers["content-type"] == "application/json"
    assert len(peers) == 1  # one connection for the three requests
