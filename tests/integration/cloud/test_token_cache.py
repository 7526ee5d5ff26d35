"""Services remember validated tokens (as keystonemiddleware does) without ever accepting a
revoked or expired one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx

from labcloud.cloud import LabCloud
from labcloud.config import Settings
from labcloud.spec import CloudSpec
from labcloud.trace.events import HttpEvent


def keystone_validations(cloud: LabCloud) -> list[HttpEvent]:
    return cloud.bus.collect(
        where=lambda e: (
            isinstance(e, HttpEvent)
            and e.target == "keystone"
            and "/v3/auth/tokens" in e.url
            and e.method == "GET"
        )
    )


def test_a_token_is_validated_once_per_service_then_remembered() -> None:
    with LabCloud(CloudSpec.demo()) as cloud:
        asked = keystone_validations(cloud)
        token = cloud.login("demo")
        images = cloud.urls["image"] + "/v2/images"
        for _ in range(5):
            assert httpx.get(images, headers={"X-Auth-Token": token}).status_code == 200
        assert [e.source for e in asked] == ["glance-api"]
        asked.close()


def test_a_revoked_token_is_refused_at_once_by_services_that_cached_it() -> None:
    with LabCloud(CloudSpec.demo()) as cloud:
        token, admin = cloud.login("demo"), cloud.login("admin")
        urls = [
            cloud.urls["image"] + "/v2/images",
            cloud.urls["network"] + "/v2.0/networks",
            cloud.urls["compute"] + "/v2.1/servers",
        ]
        for url in urls:
            assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
        gone = httpx.delete(
            cloud.urls["identity"] + "/v3/auth/tokens",
            headers={"X-Auth-Token": admin, "X-Subject-Token": token},
        )
        assert gone.status_code == 204
        for url in urls:
            answer = httpx.get(url, headers={"X-Auth-Token": token})
            assert answer.status_code == 401, url


def test_an_expired_token_is_refused_even_when_cached() -> None:
    with LabCloud(CloudSpec.demo(), Settings(token_expiry=10)) as cloud:
        token = cloud.login("demo")
        url = cloud.urls["image"] + "/v2/images"
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200  # cached now
        shown = httpx.get(
            cloud.urls["identity"] + "/v3/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        ).json()["token"]
        expires = datetime.fromisoformat(shown["expires_at"].replace("Z", "+00:00"))
        left = (expires - datetime.now(UTC)).total_seconds()
        threading.Event().wait(max(0.0, left) + 0.2)  # let the token run out
        assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 401


def test_without_a_cache_every_request_asks_keystone() -> None:
    with LabCloud(CloudSpec.demo(), Settings(token_cache_time=0)) as cloud:
        asked = keystone_validations(cloud)
        token = cloud.login("demo")
        for _ in range(3):
            httpx.get(cloud.urls["image"] + "/v2/images", headers={"X-Auth-Token": token})
        assert len(asked) == 3
        asked.close()


def test_each_api_logs_in_once_at_start_and_its_first_request_uses_that_token() -> None:
    cloud = LabCloud(CloudSpec.demo())
    logins = cloud.bus.collect(
        where=lambda e: (
            isinstance(e, HttpEvent)
            and e.method == "POST"
            and "/v3/auth/tokens" in e.url
            and e.source != "client"
        )
    )
    with cloud:
        token = cloud.login("demo")
        for url in (
            cloud.urls["image"] + "/v2/images",
            cloud.urls["network"] + "/v2.0/networks",
            cloud.urls["compute"] + "/v2.1/servers",
        ):
            assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
    # cinder-api's too, though nothing asked it: it logged in at start, not at a first request
    assert sorted(e.source for e in logins) == [
        "cinder-api",
        "glance-api",
        "neutron-server",
        "nova-api",
    ]
    assert all(e.status == 201 for e in logins)
    logins.close()
