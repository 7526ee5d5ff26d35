"""The identity service as the cloud runs it: its manager, its app, and the services' users."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI

from labcloud.exceptions import Conflict
from labcloud.identity.api import NOVA_USER, SERVICE_PROJECT, SERVICE_ROLE, create_identity_app
from labcloud.identity.manager import BCRYPT_ROUNDS, IdentityManager
from labcloud.trace.bus import TraceBus

# each project's own user, as DevStack creates them: services validate tokens with theirs
SERVICE_USERS = {
    "compute": NOVA_USER,
    "image": "glance",
    "network": "neutron",
    "volumev3": "cinder",
}


def new_password() -> str:
    """A password made for one cloud: 24 random bytes, URL-safe (32 characters)."""
    return secrets.token_urlsafe(24)


class IdentityService:
    name = "keystone"
    service_type = "identity"

    def __init__(
        self,
        db_url: str,
        *,
        key_repository: Path | None = None,
        token_expiry: int = 3600,
        bcrypt_rounds: int = BCRYPT_ROUNDS,
        bus: TraceBus | None = None,
    ) -> None:
        self.bus = bus
        self.manager = IdentityManager(
            db_url,
            key_repository=key_repository,
            token_expiry=token_expiry,
            bcrypt_rounds=bcrypt_rounds,
        )

    def create_app(self) -> FastAPI:
        return create_identity_app(self.manager, self.bus)

    def add_service_users(self, names: Iterable[str]) -> dict[str, str]:
        """Create each service's user, with the ``service`` role on the ``service`` project
        and a password made for this cloud; returns ``{name: password}``."""
        self.manager.create_role(SERVICE_ROLE)
        with contextlib.suppress(Conflict):  # the spec may have one already
            self.manager.create_project(SERVICE_PROJECT, "the services' own users")
        passwords = {}
        for name in names:
            passwords[name] = new_password()
            self.manager.create_user(name, passwords[name], SERVICE_PROJECT)
            self.manager.assign_role(name, SERVICE_PROJECT, SERVICE_ROLE)
        return passwords

    def stop(self) -> None:
        self.manager.dispose()
