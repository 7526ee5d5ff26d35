"""The identity service as the cloud runs it: its manager, its app, and the spec's accounts."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI

from labcloud.exceptions import Conflict
from labcloud.identity.api import NOVA_USER, SERVICE_PROJECT, SERVICE_ROLE, create_identity_app
from labcloud.identity.manager import BCRYPT_ROUNDS, IdentityManager
from labcloud.spec import CloudSpec
from labcloud.trace.bus import TraceBus

ROLES = ("admin", "member", "reader")
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


def spec_passwords(spec: CloudSpec, known: dict[str, str] | None = None) -> dict[str, str]:
    """Each spec user's password: the spec's own, else ``known``'s (kept from an earlier
    run), else a new one."""
    known = known or {}
    return {u.name: u.password or known.get(u.name) or new_password() for u in spec.users}


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

    def load(self, spec: CloudSpec, passwords: dict[str, str] | None = None) -> dict[str, str]:
        """Create the spec's projects, roles, users and their role assignments; returns each
        user's password (``passwords``, from spec_passwords, or new ones).

        As in DevStack, a user with the ``admin`` role holds it on every project too.
        """
        passwords = passwords or spec_passwords(spec)
        for role in ROLES:
            self.manager.create_role(role)
        for project in spec.projects:
            self.manager.create_project(project)
        for user in spec.users:
            self.manager.create_user(user.name, passwords[user.name], user.project)
            for role in user.roles:
                self.manager.assign_role(user.name, user.project, role)
            if "admin" in user.roles:
                for project in spec.projects:
                    self.manager.assign_role(user.name, project, "admin")
        return passwords

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
