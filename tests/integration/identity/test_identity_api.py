"""keystone's REST API over real HTTP: v3 and v2.0 tokens, validation, revocation, catalog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from labcloud.binaries.content import load_accounts
from labcloud.identity import tokens as manager
from labcloud.identity.api import create_identity_app
from labcloud.identity.manager import IdentityManager
from labcloud.rest.server import ApiServer
from labcloud.spec import CloudSpec


def password_auth(user: str, password: str, project: str | None = "demo") -> dict[str, object]:
    auth: dict[str, object] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": user, "domain": {"name": "Default"}, "password": password}
            },
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


# the tests' own passwords (a cloud makes its users' passwords: see test_credentials.py)
PASSWORDS = {"admin": "admin-secret", "demo": "demo-secret"}


def make_identity(expiry: int = 3600) -> tuple[IdentityManager, ApiServer]:
    service = IdentityManager("sqlite://", token_expiry=expiry, bcrypt_rounds=4)
    load_accounts(service, CloudSpec.demo(), PASSWORDS)
    server = ApiServer(create_identity_app(service), name="keystone").start()
    service.register_endpoint("identity", "keystone", server.url + "/v3", "RegionOne")
    service.register_endpoint("compute", "nova", "http://127.0.0.1:1/v2.1", "RegionOne")
    return service, server


@pytest.fixture
def keystone() -> Iterator[str]:
    service, server = make_identity()
    yield server.url
    server.stop()
    service.dispose()


def issue(url: str, user: str = "demo", password: str = "demo-secret") -> str:
    answer = httpx.post(url + "/v3/auth/tokens", json=password_auth(user, password))
    assert answer.status_code == 201, answer.text
    return answer.headers["X-Subject-Token"]


def test_v3_token_has_keystones_shape(keystone: str) -> None:
    answer = httpx.post(keystone + "/v3/auth/tokens", json=password_auth("demo", "demo-secret"))
    assert answer.status_code == 201
    token = answer.json()["token"]
    assert answer.headers["X-Subject-Token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "demo"
    assert token["user"]["domain"]["id"] == "default"
    assert token["project"]["name"] == "demo"
    assert [r["name"] for r in token["roles"]] == ["member"]
    assert token["expires_at"].endswith("Z")
    assert token["issued_at"] < token["expires_at"]
    types = {s["type"]: s for s in token["catalog"]}
    assert set(types) == {"identity", "compute"}
    assert {e["interface"] for e in types["compute"]["endpoints"]} == {
        "public",
        "internal",
        "admin",
    }


def test_validation_revocation_and_401(keystone: str) -> None:
    token = issue(keystone)
    admin = issue(keystone, "admin", "admin-secret")
    headers = {"X-Auth-Token": admin, "X-Subject-Token": token}
    valid = httpx.get(keystone + "/v3/auth/tokens", headers=headers)
    assert valid.status_code == 200
    assert valid.json()["token"]["user"]["name"] == "demo"
    assert httpx.head(keystone + "/v3/auth/tokens", headers=headers).status_code == 200
    assert httpx.delete(keystone + "/v3/auth/tokens", headers=headers).status_code == 204
    gone = httpx.get(keystone + "/v3/auth/tokens", headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == 404
    revoked_caller = httpx.get(keystone + "/v3/auth/catalog", headers={"X-Auth-Token": token})
    assert revoked_caller.status_code == 401
    assert httpx.get(keystone + "/v3/auth/catalog").status_code == 401


def test_a_token_validates_itself(keystone: str) -> None:
    token = issue(keystone)
    answer = httpx.get(
        keystone + "/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    assert answer.status_code == 200
    assert answer.headers["X-Subject-Token"] == token


def test_expired_tokens_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    service, server = make_identity(expiry=60)
    try:
        token = issue(server.url)
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        assert httpx.get(server.url + "/v3/auth/tokens", headers=headers).status_code == 200
        # keystone's clock moves past the expiry (no sleeping, no race with a slow machine)
        later = manager.now() + timedelta(seconds=61)
        monkeypatch.setattr(manager, "now", lambda: later)
        assert httpx.get(server.url + "/v3/auth/tokens", headers=headers).status_code == 401
        assert issue(server.url) != token  # a fresh login still works
    finally:
        server.stop()
        service.dispose()


def test_a_token_issued_with_a_tiny_expiry_is_still_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issuing never re-checks the clock: on a slow machine a 1 s token used to come
    back as 404 "Could not find token" from the POST that created it."""
    service, server = make_identity(expiry=1)
    try:
        real = manager.now
        calls = iter(range(1000))
        monkeypatch.setattr(manager, "now", lambda: real() + timedelta(seconds=5 * next(calls)))
        answer = httpx.post(
            server.url + "/v3/auth/tokens", json=password_auth("demo", "demo-secret")
        )
        assert answer.status_code == 201, answer.text
    finally:
        server.stop()
        service.dispose()


@pytest.mark.parametrize(
    ("user", "password", "project"),
    [
        ("demo", "wrong", "demo"),
        ("nobody", "x", "demo"),
        ("demo", "demo-secret", "admin"),
        ("demo", "demo-secret", "no-such-project"),
    ],
    ids=["bad-password", "unknown-user", "project-without-role", "unknown-project"],
)
def test_bad_credentials_get_401(keystone: str, user: str, password: str, project: str) -> None:
    answer = httpx.post(keystone + "/v3/auth/tokens", json=password_auth(user, password, project))
    assert answer.status_code == 401
    assert answer.json()["error"]["title"] == "Unauthorized"


@pytest.mark.parametrize(
    "body",
    [b"{oops", b'{"auth": {}}', b'{"auth": {"identity": {"methods": ["password"]}}}'],
    ids=["malformed", "no-identity", "no-credentials"],
)
def test_bad_requests_get_400(keystone: str, body: bytes) -> None:
    answer = httpx.post(
        keystone + "/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == 400


def test_rescoping_with_a_token(keystone: str) -> None:
    unscoped = httpx.post(
        keystone + "/v3/auth/tokens", json=password_auth("admin", "admin-secret", None)
    )
    assert unscoped.status_code == 201
    assert "project" not in unscoped.json()["token"]
    body = {
        "auth": {
            "identity": {
                "methods": ["token"],
                "token": {"id": unscoped.headers["X-Subject-Token"]},
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    scoped = httpx.post(keystone + "/v3/auth/tokens", json=body)
    assert scoped.status_code == 201
    assert scoped.json()["token"]["project"]["name"] == "admin"


def test_v2_tokens_as_the_seeds_curl_example(keystone: str) -> None:
    body = {
        "auth": {
            "passwordCredentials": {"username": "demo", "password": "demo-secret"},
            "tenantName": "demo",
        }
    }
    access = httpx.post(keystone + "/v2.0/tokens", json=body).json()["access"]
    assert access["token"]["id"]
    assert access["token"]["tenant"]["name"] == "demo"
    assert access["token"]["expires"].endswith("Z")
    compute = next(s for s in access["serviceCatalog"] if s["type"] == "compute")
    assert compute["endpoints"][0]["publicURL"] == "http://127.0.0.1:1/v2.1"
    headers = {"X-Auth-Token": access["token"]["id"], "X-Subject-Token": access["token"]["id"]}
    assert httpx.get(keystone + "/v3/auth/tokens", headers=headers).status_code == 200


def test_version_documents(keystone: str) -> None:
    root = httpx.get(keystone + "/")
    assert root.status_code == 300
    ids = [v["id"] for v in root.json()["versions"]["values"]]
    assert ids == ["v3.14", "v2.0"]
    assert httpx.get(keystone + "/v3").json()["version"]["links"][0]["href"] == keystone + "/v3/"


def test_admin_listings_need_the_admin_role(keystone: str) -> None:
    admin, demo = issue(keystone, "admin", "admin-secret"), issue(keystone)
    users = httpx.get(keystone + "/v3/users", headers={"X-Auth-Token": admin}).json()["users"]
    assert {u["name"] for u in users} == {"admin", "demo"}
    assert httpx.get(keystone + "/v3/users", headers={"X-Auth-Token": demo}).status_code == 403
