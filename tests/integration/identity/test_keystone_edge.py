"""keystone against hostile input, Fernet tokens and revocation events, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from labcloud.identity.manager import IdentityManager
from labcloud.identity.models import Project, User
from tests.integration.identity.test_identity_api import make_identity, password_auth


@dataclass
class Keystone:
    url: str
    manager: IdentityManager

    def post_token(self, body: Any) -> httpx.Response:
        return httpx.post(self.url + "/v3/auth/tokens", json=body)

    def token(self, user: str = "demo", password: str | None = None, project: str = "") -> str:
        password = password or f"{user}-secret"
        answer = self.post_token(password_auth(user, password, project or user))
        assert answer.status_code == 201, answer.text
        return answer.headers["X-Subject-Token"]

    def ids(self, model: type[User] | type[Project]) -> dict[str, str]:
        return {row["name"]: row["id"] for row in self.manager.names(model)}

    def check(self, asker: str, subject: str) -> int:
        headers = {"X-Auth-Token": asker, "X-Subject-Token": subject}
        return httpx.get(self.url + "/v3/auth/tokens", headers=headers).status_code


@pytest.fixture
def keystone() -> Iterator[Keystone]:
    service, server = make_identity()
    yield Keystone(server.url, service)
    server.stop()
    service.dispose()


def bad_request(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == 400
    assert error["title"] == "Bad Request"
    assert field in error["message"]


# -- passwords longer than bcrypt reads --------------------------------------------------
def test_a_password_over_72_bytes_is_checked_on_its_first_72_as_keystone_does(
    keystone: Keystone,
) -> None:
    """bcrypt 5 raises ValueError past 72 bytes (it was a 500, no login needed); keystone
    truncates to the hash's maximum (strict_password_check off, its default)."""
    assert keystone.post_token(password_auth("demo", "x" * 73)).status_code == 401
    assert keystone.post_token(password_auth("demo", "é" * 1000)).status_code == 401
    long = "p" * 72
    keystone.manager.update_user(keystone.ids(User)["demo"], {"password": long})
    assert keystone.token("demo", long + "anything after byte 72")


def test_strict_password_check_refuses_long_passwords_with_keystones_403(
    keystone: Keystone,
) -> None:
    keystone.manager.strict_password_check = True
    answer = keystone.post_token(password_auth("demo", "x" * 73))
    assert answer.status_code == 403
    assert "less than or equal to 72" in answer.json()["error"]["message"]


# -- malformed bodies ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"name": "d" * 256, "password": "x"}, "name"),
        ({"name": "de\x00mo", "password": "x"}, "name"),
        ({"name": "demo", "password": 5}, "password"),
        ({"name": "demo", "password": "x" * 5000}, "password"),
        ({"name": ["demo"], "password": "x"}, "name"),
        ({"id": "i" * 65, "password": "x"}, "id"),
    ],
    ids=["long-name", "nul-in-name", "password-not-a-string", "password-4k", "name-list", "id"],
)
def test_a_malformed_password_body_is_keystones_400(
    keystone: Keystone, user: dict[str, Any], field: str
) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    bad_request(keystone.post_token(body), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"auth": {"identity": {"methods": "password"}}}, "methods"),
        ({"auth": {"identity": {"methods": ["token"], "token": {"id": 5}}}}, "token.id"),
        ({"auth": {"identity": {"methods": ["token"], "token": {}}}}, "token.id"),
        ({"auth": []}, "auth"),
        ([], "body"),
        (
            {"auth": {"identity": {"methods": []}, "scope": {"project": {"name": "p" * 300}}}},
            "scope.project.name",
        ),
    ],
)
def test_malformed_auth_bodies_are_400(keystone: Keystone, body: Any, field: str) -> None:
    bad_request(keystone.post_token(body), field)


def test_v2_bodies_are_checked_too(keystone: Keystone) -> None:
    body = {"auth": {"passwordCredentials": {"username": "demo\x00", "password": "x"}}}
    bad_request(httpx.post(keystone.url + "/v2.0/tokens", json=body), "username")


@pytest.mark.parametrize(
    "subject", ["made-up", "gAAAAA" + "x" * 200, "é", "A" * 5000], ids=["word", "b64", "utf8", "5k"]
)
def test_a_made_up_subject_token_is_404_and_a_made_up_caller_401(
    keystone: Keystone, subject: str
) -> None:
    admin = keystone.token("admin")
    raw = subject.encode()  # sent as UTF-8 bytes, as a careless client does
    headers = {"X-Auth-Token": admin.encode(), "X-Subject-Token": raw}
    assert httpx.get(keystone.url + "/v3/auth/tokens", headers=headers).status_code == 404
    answer = httpx.get(keystone.url + "/v3/auth/catalog", headers={"X-Auth-Token": raw})
    assert answer.status_code == 401


# -- Fernet tokens and revocation events -----------------------------------------------------
def test_no_token_is_stored_and_revocation_is_an_event_by_audit_id(keystone: Keystone) -> None:
    assert "token" not in inspect(keystone.manager.db.engine).get_table_names()
    admin, demo, other = keystone.token("admin"), keystone.token(), keystone.token()
    assert demo.startswith("gAAAAA")  # a Fernet token (version byte 0x80)
    headers = {"X-Auth-Token": admin, "X-Subject-Token": demo}
    body = httpx.get(keystone.url + "/v3/auth/tokens", headers=headers).json()["token"]
    assert httpx.delete(keystone.url + "/v3/auth/tokens", headers=headers).status_code == 204
    (event,) = keystone.manager.tokens.events()
    assert event.audit_id == body["audit_ids"][0]
    assert event.user_id is None
    assert keystone.check(admin, demo) == 404
    assert keystone.check(admin, other) == 200  # the same user's other tokens stay valid


def test_a_rescoped_token_is_in_its_parents_audit_chain(keystone: Keystone) -> None:
    unscoped = keystone.post_token(password_auth("admin", "admin-secret", None))
    parent = unscoped.json()["token"]["audit_ids"][0]
    rescope = {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}}
    body = {"auth": {"identity": rescope, "scope": {"project": {"name": "demo"}}}}
    scoped = keystone.post_token(body).json()["token"]
    assert scoped["audit_ids"][1] == parent
    assert scoped["expires_at"] == unscoped.json()["token"]["expires_at"]
    assert scoped["methods"] == ["token"]


def test_a_new_password_or_a_disabled_project_revokes_tokens(keystone: Keystone) -> None:
    admin = keystone.token("admin")
    demo = keystone.token()
    users = keystone.ids(User)
    keystone.manager.update_user(users["demo"], {"password": "a new one"})
    assert keystone.check(admin, demo) == 404
    assert keystone.check(admin, admin) == 200
    projects = keystone.ids(Project)
    keystone.manager.update_project(projects["admin"], {"enabled": False})
    assert keystone.check(admin, admin) == 401  # the asker's own token went with it


def test_a_user_may_validate_its_own_other_tokens_only(keystone: Keystone) -> None:
    one, two, admin = keystone.token(), keystone.token(), keystone.token("admin")
    assert keystone.check(one, two) == 200  # keystone's token_subject rule: same user
    assert keystone.check(one, admin) == 403
    assert keystone.check(one, "made-up") == 403  # nothing learnt about other tokens
