"""Shared fixtures. A test that needs RabbitMQ skips on a laptop without one, and fails in CI."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

RABBIT_HOST = os.environ.get("LABCLOUD_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("LABCLOUD_TEST_RABBIT_PORT", "5672"))
RABBIT_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip when a requirement is missing, except in CI, where a missing requirement fails."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI requires this, and it is missing: {why}", pytrace=False)
    pytest.skip(why)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The URL of a running RabbitMQ (guest/guest on 127.0.0.1:5672)."""
    require(port_open(RABBIT_HOST, RABBIT_PORT), f"no RabbitMQ on {RABBIT_HOST}:{RABBIT_PORT}")
    return RABBIT_URL


@pytest.fixture
def trace_bus() -> Iterator[object]:
    from labcloud.trace import TraceBus

    return TraceBus()


class Keystone:
    """A running identity service (demo spec) for other services' tests."""

    def __init__(self) -> None:
        from labcloud.identity.service import IdentityService
        from labcloud.rest.server import ApiServer
        from labcloud.spec import CloudSpec

        self.service = IdentityService("sqlite://", bcrypt_rounds=4)
        self.service.load(CloudSpec.demo())
        self.server = ApiServer(self.service.create_app(), name="keystone").start()
        self.url = self.server.url
        self.manager = self.service.manager

    def token(self, user: str = "demo", project: str | None = None) -> str:
        """A project-scoped token for ``user`` (demo/demo-secret or admin/admin-secret)."""
        info = self.manager.issue(self.user_id(user), project or user, methods=("password",))
        return info.id

    def user_id(self, name: str) -> str:
        return next(u["id"] for u in self.manager.names(_user_model()) if u["name"] == name)

    def project_id(self, name: str) -> str:
        from labcloud.identity.models import Project

        return next(p["id"] for p in self.manager.names(Project) if p["name"] == name)

    def validator(self) -> object:
        """A KeystoneValidator: validates over HTTP, exactly as a service does."""
        from labcloud.rest.auth import KeystoneValidator
        from labcloud.rest.client import ServiceClient

        return KeystoneValidator(ServiceClient(self.url, source="test", target="keystone"))

    def stop(self) -> None:
        self.server.stop()
        self.service.stop()


def _user_model() -> type:
    from labcloud.identity.models import User

    return User


@pytest.fixture
def keystone() -> Iterator[Keystone]:
    """A real identity service on 127.0.0.1; ``keystone.token("demo")`` gives a token."""
    ks = Keystone()
    yield ks
    ks.stop()
