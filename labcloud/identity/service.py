"""The identity service as the cloud runs it: its manager, its app, and the spec's accounts."""

from __future__ import annotations

from fastapi import FastAPI

from labcloud.identity.api import create_identity_app
from labcloud.identity.manager import BCRYPT_ROUNDS, IdentityManager
from labcloud.spec import CloudSpec
from labcloud.trace.bus import TraceBus

ROLES = ("admin", "member", "reader")


class IdentityService:
    name = "keystone"
    service_type = "identity"

    def __init__(
        self,
        db_url: str,
        *,
        token_expiry: int = 3600,
        bcrypt_rounds: int = BCRYPT_ROUNDS,
        bus: TraceBus | None = None,
    ) -> None:
        self.bus = bus
        self.manager = IdentityManager(
            db_url, token_expiry=token_expiry, bcrypt_rounds=bcrypt_rounds
        )

    def create_app(self) -> FastAPI:
        return create_identity_app(self.manager, self.bus)

    def load(self, spec: CloudSpec) -> None:
        """Create the spec's projects, roles, users and their role assignments.

        As in DevStack, a user with the ``admin`` role holds it on every project too.
        """
        for role in ROLES:
            self.manager.create_role(role)
        for project in spec.projects:
            self.manager.create_project(project)
        for user in spec.users:
            self.manager.create_user(user.name, user.password, user.project)
            for role in user.roles:
                self.manager.assign_role(user.name, user.project, role)
            if "admin" in user.roles:
                for project in spec.projects:
                    self.manager.assign_role(user.name, project, "admin")

    def stop(self) -> None:
        self.manager.dispose()
