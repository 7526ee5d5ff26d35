"""The identity manager: accounts, role assignments, tokens and the catalog, on its database.

Everything REST-facing lives in api.py; this module knows nothing about HTTP.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from labcloud.db import Database
from labcloud.exceptions import Conflict, NotFound, Unauthorized
from labcloud.identity.models import (
    Assignment,
    Base,
    Endpoint,
    Project,
    Role,
    Service,
    Token,
    User,
)

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
BCRYPT_ROUNDS = 10  # keystone uses 12; 10 keeps a token request near 60 ms on a laptop


class TokenNotFound(NotFound):
    msg_fmt = "Could not find token: %(token_id)s."


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class TokenInfo:
    """What a token says: whose it is, for which project, with which roles, until when."""

    id: str
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[tuple[str, str], ...]  # (id, name)
    methods: tuple[str, ...]
    audit_id: str
    issued_at: datetime
    expires_at: datetime


class IdentityManager:
    def __init__(
        self, db_url: str, *, token_expiry: int = 3600, bcrypt_rounds: int = BCRYPT_ROUNDS
    ) -> None:
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.token_expiry = token_expiry
        self.rounds = bcrypt_rounds
        # told about revocations (a token id) and role changes (None): services' token caches
        self.revocation_listeners: list[Callable[[str | None], None]] = []

    def _revoked(self, token_id: str | None) -> None:
        for listener in self.revocation_listeners:
            listener(token_id)

    # -- accounts ----------------------------------------------------------------------
    def create_project(self, name: str, description: str = "") -> str:
        with self.db.session() as s:
            if s.scalar(select(Project).where(Project.name == name)):
                raise Conflict(f"Conflict occurred attempting to store project - {name}.")
            project = Project(id=_new_id(), name=name, description=description)
            s.add(project)
            return project.id

    def create_user(self, name: str, password: str, project: str | None = None) -> str:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.rounds)).decode()
        with self.db.session() as s:
            if s.scalar(select(User).where(User.name == name)):
                raise Conflict(f"Conflict occurred attempting to store user - {name}.")
            default = self._project(s, project).id if project else None
            user = User(id=_new_id(), name=name, password_hash=hashed, default_project_id=default)
            s.add(user)
            return user.id

    def create_role(self, name: str) -> str:
        with self.db.session() as s:
            existing = s.scalar(select(Role).where(Role.name == name))
            if existing:
                return existing.id
            role = Role(id=_new_id(), name=name)
            s.add(role)
            return role.id

    def assign_role(self, user: str, project: str, role: str) -> None:
        with self.db.session() as s:
            u, p = self._user(s, user), self._project(s, project)
            r = s.scalar(select(Role).where((Role.name == role) | (Role.id == role)))
            if r is None:
                raise NotFound(f"Could not find role: {role}.")
            exists = s.scalar(
                select(Assignment).where(
                    Assignment.user_id == u.id,
                    Assignment.project_id == p.id,
                    Assignment.role_id == r.id,
                )
            )
            if exists is None:
                s.add(Assignment(user_id=u.id, project_id=p.id, role_id=r.id))
        self._revoked(None)  # cached validations carry the old roles

    def names(self, model: type[Project] | type[User] | type[Role]) -> list[dict[str, str]]:
        """Every row of a table, as ``{"id", "name"}`` (for the admin listings)."""
        with self.db.session() as s:
            rows: list[Project | User | Role] = list(s.scalars(select(model)))
            return [{"id": row.id, "name": row.name} for row in rows]

    @staticmethod
    def _user(s: Session, name_or_id: str) -> User:
        user = s.scalar(select(User).where((User.name == name_or_id) | (User.id == name_or_id)))
        if user is None:
            raise NotFound(f"Could not find user: {name_or_id}.")
        return user

    @staticmethod
    def _project(s: Session, name_or_id: str) -> Project:
        project = s.scalar(
            select(Project).where((Project.name == name_or_id) | (Project.id == name_or_id))
        )
        if project is None:
            raise NotFound(f"Could not find project: {name_or_id}.")
        return project

    # -- tokens ------------------------------------------------------------------------
    def authenticate(self, user: str, password: str, project: str | None) -> TokenInfo:
        """Check a password and issue a token, scoped to ``project`` when one is given."""
        with self.db.session() as s:
            account = s.scalar(select(User).where((User.name == user) | (User.id == user)))
            if (
                account is None
                or not account.enabled
                or not bcrypt.checkpw(password.encode(), account.password_hash.encode())
            ):
                raise Unauthorized("The request you have made requires authentication.")
            user_id = account.id
        return self.issue(user_id, project, methods=("password",))

    def issue(self, user_id: str, project: str | None, *, methods: tuple[str, ...]) -> TokenInfo:
        with self.db.session() as s:
            project_id = None
            if project is not None:
                try:
                    project_id = self._project(s, project).id
                except NotFound:
                    raise Unauthorized(f"Could not find project {project}.") from None
                if not self._roles(s, user_id, project_id):
                    raise Unauthorized(f"User {user_id} has no access to project {project}.")
            issued = now()
            token = Token(
                id=secrets.token_hex(16),
                user_id=user_id,
                project_id=project_id,
                methods=",".join(methods),
                audit_id=secrets.token_urlsafe(16)[:22],
                issued_at=issued,
                expires_at=issued + timedelta(seconds=self.token_expiry),
            )
            s.add(token)
            s.flush()
            # built from the new row, not re-validated: a short expiry on a slow
            # machine must not turn a token just issued into "not found"
            return self._info(s, token)

    def rescope(self, token_id: str, project: str | None) -> TokenInfo:
        """The ``token`` auth method: a new token for the same user, expiring no later."""
        old = self.validate(token_id)
        new = self.issue(old.user_id, project, methods=("token",))
        with self.db.session() as s:
            row = s.get(Token, new.id)
            assert row is not None
            row.expires_at = min(row.expires_at, old.expires_at)
        return self.validate(new.id)

    def validate(self, token_id: str) -> TokenInfo:
        """Who a token belongs to; TokenNotFound when unknown, expired or revoked."""
        with self.db.session() as s:
            token = s.get(Token, token_id)
            if token is None or token.revoked or token.expires_at <= now():
                raise TokenNotFound(token_id=token_id)
            return self._info(s, token)

    def _info(self, s: Session, token: Token) -> TokenInfo:
        user = s.get(User, token.user_id)
        project = s.get(Project, token.project_id) if token.project_id else None
        assert user is not None
        roles = self._roles(s, user.id, project.id) if project else ()
        return TokenInfo(
            id=token.id,
            user_id=user.id,
            user_name=user.name,
            project_id=project.id if project else None,
            project_name=project.name if project else None,
            roles=roles,
            methods=tuple(token.methods.split(",")),
            audit_id=token.audit_id,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
        )

    @staticmethod
    def _roles(s: Session, user_id: str, project_id: str) -> tuple[tuple[str, str], ...]:
        rows = s.execute(
            select(Role.id, Role.name)
            .join(Assignment, Assignment.role_id == Role.id)
            .where(Assignment.user_id == user_id, Assignment.project_id == project_id)
        )
        return tuple((rid, name) for rid, name in rows)

    def revoke(self, token_id: str) -> None:
        with self.db.session() as s:
            token = s.get(Token, token_id)
            if token is None or token.revoked:
                raise TokenNotFound(token_id=token_id)
            token.revoked = True
        self._revoked(token_id)

    # -- catalog -----------------------------------------------------------------------
    def register_endpoint(self, service_type: str, name: str, url: str, region: str) -> None:
        """Publish ``url`` as the public, internal and admin endpoint of a service."""
        with self.db.session() as s:
            service = s.scalar(select(Service).where(Service.type == service_type))
            if service is None:
                service = Service(id=_new_id(), type=service_type, name=name)
                s.add(service)
                s.flush()
            for interface in ("public", "internal", "admin"):
                s.add(
                    Endpoint(
                        id=_new_id(),
                        service_id=service.id,
                        interface=interface,
                        region=region,
                        url=url,
                    )
                )

    def catalog(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            result: list[dict[str, Any]] = []
            for service in s.scalars(select(Service).order_by(Service.type)):
                endpoints = s.scalars(select(Endpoint).where(Endpoint.service_id == service.id))
                result.append(
                    {
                        "id": service.id,
                        "type": service.type,
                        "name": service.name,
                        "endpoints": [
                            {
                                "id": e.id,
                                "interface": e.interface,
                                "region": e.region,
                                "region_id": e.region,
                                "url": e.url,
                            }
                            for e in endpoints
                        ],
                    }
                )
            return result

    def dispose(self) -> None:
        self.db.dispose()
