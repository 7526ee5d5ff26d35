"""keystone's users, projects, roles, grants, role assignments, services and endpoints: an
admin's to change, refused (403) to a member, with keystone's shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.identity.test_identity_api import make_identity, password_auth


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = self.login("admin", "admin-secret")
        self.demo = self.login("demo", "demo-secret")

    def login(self, user: str, password: str, project: str | None = None) -> str:
        answer = httpx.post(
            self.url + "/v3/auth/tokens", json=password_auth(user, password, project or user)
        )
        assert answer.status_code == 201, answer.text
        return answer.headers["X-Subject-Token"]

    def call(self, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method, self.url + "/v3" + path, json=body, headers={"X-Auth-Token": token}
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        answer = self.call(method, path, self.admin, body)
        assert answer.status_code == status, answer.text
        return answer.json() if answer.content else None


@pytest.fixture
def api() -> Iterator[Api]:
    service, server = make_identity()
    yield Api(server.url)
    server.stop()
    service.dispose()


def test_an_admin_makes_a_project_a_user_and_a_grant_then_the_user_logs_in(api: Api) -> None:
    project = api.ok("POST", "/projects", {"project": {"name": "lab3"}}, 201)["project"]
    assert project["domain_id"] == "default"
    assert project["links"]["self"].endswith(project["id"])
    body = {
        "user": {"name": "alice", "password": "wonderland", "default_project_id": project["id"]}
    }
    user = api.ok("POST", "/users", body, 201)["user"]
    assert user["default_project_id"] == project["id"]
    assert "password" not in user
    member = api.ok("GET", "/roles?name=member")["roles"][0]
    grant = f"/projects/{project['id']}/users/{user['id']}/roles/{member['id']}"
    assert api.call("HEAD", grant, api.admin).status_code == 404
    api.ok("PUT", grant, status=204)
    api.ok("HEAD", grant, status=204)
    alice = api.login("alice", "wonderland", "lab3")
    assigned = api.ok("GET", f"/role_assignments?user.id={user['id']}&include_names")
    (only,) = assigned["role_assignments"]
    assert only["role"]["name"] == "member"
    assert only["scope"]["project"]["name"] == "lab3"
    assert api.call("GET", f"/users/{user['id']}", alice).status_code == 200  # oneself
    mine = api.call("GET", "/auth/projects", alice).json()["projects"]
    assert [p["name"] for p in mine] == ["lab3"]
    api.ok("DELETE", grant, status=204)  # and alice's tokens on lab3 are revoked
    assert api.call("GET", "/auth/catalog", alice).status_code == 401
    api.ok("DELETE", f"/users/{user['id']}", status=204)
    api.ok("DELETE", f"/projects/{project['id']}", status=204)
    assert api.call("GET", f"/projects/{project['id']}", api.admin).status_code == 404


def test_updates_rename_and_disable(api: Api) -> None:
    demo = api.ok("GET", "/users?name=demo")["users"][0]
    changed = api.ok("PATCH", f"/users/{demo['id']}", {"user": {"enabled": False}})["user"]
    assert changed["enabled"] is False
    assert api.call("GET", "/auth/catalog", api.demo).status_code == 401  # revoked
    answer = httpx.post(api.url + "/v3/auth/tokens", json=password_auth("demo", "demo-secret"))
    assert answer.status_code == 401
    project = api.ok("GET", "/projects?name=demo")["projects"][0]
    renamed = api.ok("PATCH", f"/projects/{project['id']}", {"project": {"name": "demo2"}})
    assert renamed["project"]["name"] == "demo2"
    taken = api.call(
        "PATCH", f"/projects/{project['id']}", api.admin, {"project": {"name": "admin"}}
    )
    assert taken.status_code == 409


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("POST", "/users", {"user": {"name": "mallory", "password": "x"}}),
        ("GET", "/projects", None),
        ("POST", "/projects", {"project": {"name": "mine"}}),
        ("GET", "/roles", None),
        ("GET", "/role_assignments", None),
        ("GET", "/services", None),
        ("GET", "/endpoints", None),
        ("POST", "/services", {"service": {"type": "x", "name": "x"}}),
    ],
)
def test_a_member_is_refused_with_the_action_named(
    api: Api, method: str, path: str, body: Any
) -> None:
    answer = api.call(method, path, api.demo, body)
    assert answer.status_code == 403, answer.text
    assert "identity:" in answer.json()["error"]["message"]


def test_a_member_cannot_grant_itself_admin_nor_change_others(api: Api) -> None:
    ids = {u["name"]: u["id"] for u in api.ok("GET", "/users")["users"]}
    projects = {p["name"]: p["id"] for p in api.ok("GET", "/projects")["projects"]}
    admin_role = api.ok("GET", "/roles?name=admin")["roles"][0]["id"]
    grant = f"/projects/{projects['demo']}/users/{ids['demo']}/roles/{admin_role}"
    assert api.call("PUT", grant, api.demo).status_code == 403
    assert api.call("PATCH", f"/users/{ids['admin']}", api.demo, {"user": {}}).status_code == 403
    assert api.call("DELETE", f"/users/{ids['admin']}", api.demo).status_code == 403
    assert api.call("GET", f"/users/{ids['admin']}", api.demo).status_code == 403
    assert api.call("GET", f"/projects/{projects['admin']}", api.demo).status_code == 403
    assert api.call("GET", f"/projects/{projects['demo']}", api.demo).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/users", {"user": {"name": "x" * 256}}, "name"),
        ("/users", {"user": {"name": "a\x00b"}}, "name"),
        ("/users", {"user": {"name": "   "}}, "name"),
        ("/users", {"user": {"name": "ok", "enabled": "yes"}}, "enabled"),
        ("/projects", {"project": {"name": "p" * 65}}, "name"),
        ("/projects", {"project": {"name": "p", "description": 5}}, "description"),
        (
            "/endpoints",
            {"endpoint": {"service_id": "s", "interface": "x", "url": "u"}},
            "interface",
        ),
        ("/services", {"service": {}}, "type"),
        ("/services", {"service": {"type": "t" * 65}}, "type"),
    ],
)
def test_bad_account_bodies_are_400_naming_the_field(
    api: Api, path: str, body: Any, field: str
) -> None:
    answer = api.call("POST", path, api.admin, body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]["message"]


def test_services_and_endpoints(api: Api) -> None:
    services = api.ok("GET", "/services")["services"]
    assert {s["type"] for s in services} == {"identity", "compute"}
    service = api.ok(
        "POST", "/services", {"service": {"type": "object-store", "name": "swift"}}, 201
    )
    body = {
        "endpoint": {
            "service_id": service["service"]["id"],
            "interface": "public",
            "url": "http://127.0.0.1:8080/v1/AUTH_$(project_id)s",
            "region_id": "RegionOne",
        }
    }
    endpoint = api.ok("POST", "/endpoints", body, 201)["endpoint"]
    assert (
        api.ok("GET", f"/endpoints/{endpoint['id']}")["endpoint"]["url"] == body["endpoint"]["url"]
    )
    public = api.ok("GET", f"/endpoints?service_id={service['service']['id']}")["endpoints"]
    assert [e["interface"] for e in public] == ["public"]
    catalog = api.call("GET", "/auth/catalog", api.demo).json()["catalog"]
    assert "object-store" in {s["type"] for s in catalog}
    assert api.call("GET", "/services/nope", api.admin).status_code == 404
