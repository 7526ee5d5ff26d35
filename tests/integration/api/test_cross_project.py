"""Point 6 of issue 10, generated: every list, show, update and delete route every API
documents (its OpenAPI document) is called by a member of project B on resources project
A made: B reads none of them and changes none of them."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Cloud
from tests.integration.api.crossing import Caller, body_for, create, fill, routes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CORE = {"networks", "subnets", "ports", "images", "volumes", "servers", "users", "projects"}
LIST_QUERIES = (
    "",
    "?all_tenants=1",
    "?all_projects=1",
    "?project_id={a}",
    "?tenant_id={a}",
    "?owner={a}",
)
ORDER = {"GET": 0, "HEAD": 0, "PATCH": 1, "PUT": 1, "POST": 1, "DELETE": 2}  # deletes last


def test_a_member_of_another_project_reads_and_changes_nothing(api_cloud: Cloud) -> None:
    a, b = Caller(api_cloud, "demo"), Caller(api_cloud, "bob")
    try:
        documented = set(routes(api_cloud))
        owned = create(a, documented)
        assert set(owned.ids) >= CORE, f"A could not make: {owned.missing}"
        before = {
            kind: a(api, "GET", path).json() for kind, (api, path) in owned.shows.items() if path
        }
        secrets = set(owned.ids.values()) - {"a-key"}  # a keypair's id is its name
        leaks, checked, uncovered = [], 0, []

        def leak(method: str, url: str, status: int, why: str) -> None:
            leaks.append(f"{method} {url} -> {status}: {why}")

        for api, method, template in sorted(documented, key=lambda r: ORDER[r[1]]):
            params = template.count("{")
            if method == "GET" and (
                params == 0 or (template.startswith("/v3/{project_id}/") and params == 1)
            ):
                for project in {b.project, a.project} if params else {""}:
                    for query in LIST_QUERIES:
                        path = template.replace("{project_id}", project) + query.format(a=a.project)
                        answer = b(api, "GET", path)
                        checked += 1
                        seen = sorted(s for s in secrets if s in answer.text)
                        if answer.status_code < 300 and seen:
                            leak("GET", f"{api}{path}", answer.status_code, f"lists A's {seen}")
                continue
            filled = fill(template, owned, b.project, a.project)
            if filled is None:
                uncovered.append(f"{api} {method} {template}")
                continue
            path, touches_a = filled
            if not touches_a:
                continue
            answer = b(api, method, path, **body_for(method, path, b.project, owned))
            checked += 1
            if answer.status_code < 300:
                leak(method, f"{api}{path}", answer.status_code, answer.text[:200])
            elif answer.status_code >= 500:
                leak(
                    method, f"{api}{path}", answer.status_code, "server error: " + answer.text[:200]
                )

        for method in ("GET", "HEAD", "DELETE"):  # B asks about (or revokes) A's token
            answer = b("identity", method, "/v3/auth/tokens", headers={"X-Subject-Token": a.token})
            checked += 1
            if answer.status_code < 300:
                leak(
                    method,
                    "identity/v3/auth/tokens (A's token)",
                    answer.status_code,
                    answer.text[:200],
                )

        for kind, (api, path) in owned.shows.items():  # A finds everything as it left it
            if not path:
                continue
            after = a(api, "GET", path)
            if after.status_code != 200:
                leak("(A reads)", f"{api}{path}", after.status_code, "A lost its resource")
            elif str(after.json()).count("stolen") > str(before[kind]).count("stolen"):
                leak("(A reads)", f"{api}{path}", after.status_code, "B changed it")
    finally:
        a.close()
        b.close()
    print(f"{checked} requests by B on A's resources; not covered: {uncovered}")
    print(f"A could not make: {owned.missing}")
    assert checked > 50
    assert not leaks, f"{len(leaks)} cross-project leaks on {api_cloud.backend}:\n" + "\n".join(
        leaks
    )
