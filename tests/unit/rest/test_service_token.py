"""ServiceToken.log_in_soon: a service's login made ahead, in a thread; a failed one is made
again at the token's first use."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from labcloud.rest.auth import ServiceCredentials, ServiceToken


class FlakyKeystone:
    """Answers POST /v3/auth/tokens, after refusing the first ``failures`` connections."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.posts = 0

    def post(self, path: str, **_: Any) -> httpx.Response:
        self.posts += 1
        if self.posts <= self.failures:
            raise httpx.ConnectError("keystone is not there yet")
        body = {"issued_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T11:00:00Z"}
        return httpx.Response(201, json={"token": body}, headers={"X-Subject-Token": "tok"})


def token(keystone: FlakyKeystone) -> ServiceToken:
    return ServiceToken(keystone, ServiceCredentials("nova", "pw"))  # type: ignore[arg-type]


def test_the_login_made_ahead_is_the_one_used() -> None:
    keystone = FlakyKeystone(failures=0)
    service = token(keystone)
    service.log_in_soon().join(10)
    assert keystone.posts == 1
    assert service.get() == "tok"
    assert keystone.posts == 1  # not logged in again


def test_a_failed_login_ahead_only_logs_and_the_first_use_logs_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keystone = FlakyKeystone(failures=1)
    service = token(keystone)
    with caplog.at_level(logging.WARNING):
        service.log_in_soon().join(10)
    assert "nova could not log in yet" in caplog.text
    assert service.get() == "tok"
    assert keystone.posts == 2
