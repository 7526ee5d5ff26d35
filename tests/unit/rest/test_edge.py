"""The HTTP edge every API shares: errors keep the connection, bodies have a size limit, a
token that cannot be one is 401, a database error that slips through is 400/409, not 500, and
a database or keystone that cannot be reached is 503."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Integer, String, create_engine, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from labcloud.context import RequestContext
from labcloud.rest.app import create_app
from labcloud.rest.auth import AuthInfo, require_token
from labcloud.rest.server import ApiServer
from tests.unit.rest.test_rest import Server


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(8), unique=True)


class Validator:
    def validate(self, token: str) -> AuthInfo:
        return AuthInfo(token, "u1", "demo", "p1", "demo", ("member",), "2030-01-01T00:00:00Z")


def build(project: str, limit: int = 1000) -> ApiServer:
    app = create_app("test", project, max_body_size=limit)
    auth = require_token(Validator())
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )  # one in-memory database
    Base.metadata.create_all(engine)

    @app.post("/servers", status_code=202)
    def create(server: Server, ctxt: RequestContext = Depends(auth)) -> dict[str, str]:  # noqa: B008
        return {"name": server.name}

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    @app.post("/rows")
    def add(name: str) -> None:
        with Session(engine) as session:
            session.add(Row(name=name))
            session.commit()

    @app.post("/rows-of")
    def add_of(kind: str) -> None:
        value = {"list": ["a"], "int": 2**70}[kind]
        with Session(engine) as session:
            session.add(Row(id=value if kind == "int" else None, name=value))
            session.commit()

    @app.get("/no-table")
    def no_table() -> None:
        with Session(engine) as session:
            session.execute(text("select * from nothing"))

    @app.get("/db-down")
    def db_down() -> None:  # a PostgreSQL server that is not there (port 1 refuses)
        down = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        try:
            with down.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            down.dispose()

    @app.get("/data-error")
    def data_error() -> None:
        raise DataError("INSERT", {}, Exception("value too long for type character varying(8)"))

    @app.put("/v2/images/{image_id}/file", status_code=204)
    async def upload(image_id: str, request: Request) -> None:
        async for _chunk in request.stream():
            pass

    return ApiServer(app, name=project).start()


@pytest.fixture
def nova() -> Iterator[ApiServer]:
    server = build("nova")
    yield server
    server.stop()


def local_port(answer: httpx.Response) -> int:
    """The client's port of the connection that carried ``answer``."""
    return int(answer.extensions["network_stream"].get_extra_info("client_addr")[1])


def test_error_answers_keep_the_connection(nova: ApiServer) -> None:
    good = {"X-Auth-Token": "t"}
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "/servers", {}),  # 405
        ("GET", "/no/such/route", {}),  # 404
        ("POST", "/servers", {"json": {"name": "vm"}, "headers": good}),  # 400
        ("POST", "/servers", {"content": b"{", "headers": good}),  # 400, malformed
        ("POST", "/servers", {"content": b"x" * 5000}),  # 413, body never read
        ("POST", "/servers", {"content": b"x" * 900}),  # 401, body never read
        ("GET", "/crash", {}),  # 500
        ("POST", "/servers", {"json": {"name": "vm", "flavorRef": "1"}, "headers": good}),
    ]
    with httpx.Client(base_url=nova.url, timeout=60) as client:
        answers = [client.request(m, p, **kw) for m, p, kw in calls]  # type: ignore[arg-type]
        ports = {local_port(a) for a in answers}
    assert [a.status_code for a in answers] == [405, 404, 400, 400, 413, 401, 500, 202]
    assert len(ports) == 1, "a new connection was opened"
    assert all(a.headers.get("connection") != "close" for a in answers)


def test_a_500_is_logged_with_its_traceback(
    nova: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert httpx.get(nova.url + "/crash").status_code == 500
    (record,) = [r for r in caplog.records if r.name == "labcloud.rest.app"]
    assert record.exc_info is not None
    assert "GET /crash failed" in record.getMessage()


@pytest.mark.parametrize("project", ["nova", "neutron", "keystone"])
def test_a_body_over_the_limit_is_413_in_the_projects_shape(project: str) -> None:
    server = build(project, limit=1000)
    try:
        declared = httpx.post(server.url + "/servers", content=b"x" * 1001)
        chunked = httpx.post(
            server.url + "/servers",
            content=iter([b"x" * 600, b"x" * 600]),  # no Content-Length: counted while read
            headers={"X-Auth-Token": "t", "Content-Type": "application/json"},
        )
        fits = httpx.post(
            server.url + "/servers",
            json={"name": "v" * 900, "flavorRef": "1"},
            headers={"X-Auth-Token": "t"},
        )
    finally:
        server.stop()
    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert "1000 bytes" in str(answer.json())
    assert fits.status_code == 202
    if project == "nova":
        assert declared.json()["overLimit"]["code"] == 413


def test_the_default_limit_is_oslo_middlewares() -> None:
    server = ApiServer(create_app("test", "nova"), name="nova").start()
    try:
        over = httpx.post(server.url + "/x", content=b"x" * 114689)
        under = httpx.post(server.url + "/x", content=b"x" * 114688)
    finally:
        server.stop()
    assert (over.status_code, under.status_code) == (413, 404)


def test_glance_image_data_is_streamed_past_the_limit() -> None:
    server = build("glance", limit=1000)
    try:
        data = httpx.put(server.url + "/v2/images/abc/file", content=b"x" * 100_000)
        json_body = httpx.post(server.url + "/servers", content=b"x" * 1001)
    finally:
        server.stop()
    assert data.status_code == 204
    assert json_body.status_code == 413


@pytest.mark.parametrize("token", ["t\u00e9", "a b", "tok\x7f", "\u2603"])
def test_a_token_that_is_not_printable_ascii_is_401(nova: ApiServer, token: str) -> None:
    answer = httpx.post(
        nova.url + "/servers",
        json={"name": "vm", "flavorRef": "1"},
        headers={"X-Auth-Token": token.encode()},
    )
    assert answer.status_code == 401
    assert answer.json()["unauthorized"]["code"] == 401


def test_database_errors_that_slip_through_are_400_or_409(nova: ApiServer) -> None:
    with httpx.Client(base_url=nova.url, timeout=60) as client:
        first = client.post("/rows", params={"name": "a"})
        twice = client.post("/rows", params={"name": "a"})
        too_long = client.get("/data-error")
    assert first.status_code == 200
    assert twice.status_code == 409
    assert twice.json()["conflictingRequest"]["code"] == 409
    assert too_long.status_code == 400
    assert "UNIQUE" not in twice.text
    assert "varying" not in too_long.text


@pytest.mark.parametrize(
    ("content_type", "status"),
    [(None, 202), ("", 202), ("text/plain", 202), ("application/xml", 415),
     ("application/x-www-form-urlencoded", 415), ("text/html", 415)],
)  # fmt: skip
def test_a_body_is_json_unless_its_type_says_otherwise_as_nova_reads_it(
    nova: ApiServer, content_type: str | None, status: int
) -> None:
    """nova reads a body of no type, an empty one or text/plain as JSON (eventlet's default
    type) and answers another type 415 (rest/content_type.py)."""
    kind = {} if content_type is None else {"Content-Type": content_type}
    answer = httpx.post(
        nova.url + "/servers",
        content=b'{"name": "vm", "flavorRef": "1"}',
        headers={"X-Auth-Token": "t"} | kind,
    )
    assert answer.status_code == status, answer.text
    if status == 415:
        assert answer.json() == {
            "badMediaType": {"code": 415, "message": "Unsupported Content-Type"}
        }


def test_values_the_database_cannot_bind_are_400_its_own_faults_500(nova: ApiServer) -> None:
    with httpx.Client(base_url=nova.url, timeout=60) as client:
        a_list = client.post("/rows-of", params={"kind": "list"})  # sqlite3: type not supported
        too_big = client.post("/rows-of", params={"kind": "int"})  # OverflowError
        broken = client.get("/no-table")  # OperationalError: the cloud's bug
    assert (a_list.status_code, too_big.status_code, broken.status_code) == (400, 400, 500)
    assert broken.json()["computeFault"]["message"] == "Unexpected error: OperationalError"


def test_a_database_that_cannot_be_reached_is_503(nova: ApiServer) -> None:
    answer = httpx.get(nova.url + "/db-down")
    assert answer.status_code == 503
    assert answer.json()["serviceUnavailable"]["code"] == 503  # nova's fault name for 503


@pytest.mark.parametrize("status", [None, 500, 503])
def test_a_keystone_that_cannot_answer_is_503_not_401(status: int | None) -> None:
    """keystonemiddleware's answer when identity fails (5xx, or no answer): the token may be
    good, so it is not a 401."""
    from labcloud.rest.auth import KeystoneUnavailable, KeystoneValidator
    from labcloud.rest.client import ServiceClient

    app = create_app("keystone", "keystone")

    @app.get("/v3/auth/tokens")
    def validate() -> JSONResponse:  # a 5xx: the validator must not read it as a bad token
        return JSONResponse({"error": {"code": status}}, status_code=status or 500)

    server = ApiServer(app, name="keystone").start() if status else None
    url = server.url if server else "http://127.0.0.1:1"
    try:
        client = ServiceClient(url, source="nova-api", target="keystone")
        with pytest.raises(KeystoneUnavailable):
            KeystoneValidator(client).validate("a-token")
        client.close()
    finally:
        if server:
            server.stop()
