"""The identity manager: accounts, role assignments, tokens and the catalog, on its database.

Everything REST-facing lives in api.py and its routers; this module knows nothing about
HTTP. Tokens are Fernet tokens (tokens.py, fernet.py): the database holds none.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from labcloud.db import Database
from labcloud.exceptions import Conflict, Forbidden, NotFound, Unauthorized
from labcloud.identity.fernet import KeyRepository
from labcloud.identity.models import (
    Assignment,
    Base,
    Endpoint,
    Project,
    Role,
    Service,
    User,
)
from labcloud.identity.passwords import BCRYPT_MAX_BYTES, BCRYPT_ROUNDS, hash_ahead, make_hash
from labcloud.identity.tokens import TokenInfo, TokenNotFound, TokenProvider, now

__all__ = ["IdentityManager", "TokenInfo", "TokenNotFound", "now"]

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
Row = TypeVar("Row", Project, User, Role, Service, Endpoint)


class PasswordVerificationError(Forbidden):
    msg_fmt = (
        "The password length must be less than or equal to %(size)i. The server could not "
        "comply with the request because the password is invalid."
    )


def _new_id() -> str:
    return uuid.uuid4().hex


class IdentityManager:
    def __init__(
        self,
        db_url: str,
        *,
        key_repository: Path | None = None,
        token_expiry: int = 3600,
        bcrypt_rounds: int = BCRYPT_ROUNDS,
        strict_password_check: bool = False,
    ) -> None:
        """``key_repository``: the fernet keys' directory (made with a staged and a primary
        key when missing, as ``keystone-manage fernet_setup``); None keeps the keys in
        memory. ``strict_password_check``: refuse (403) passwords bcrypt would truncate
        instead of truncating them, as keystone's option of that name."""
        self.db = Database(db_url, Base.metadata)
        self.db.create_all()
        self.keys = KeyRepository(key_repository)
        self.keys.setup()
        self.tokens = TokenProvider(self.db, self.keys, token_expiry)
        self.token_expiry = token_expiry
        self.rounds = bcrypt_rounds
        self.strict_password_check = strict_password_check
        # told about revocations (a token id) and role changes (None): services' token caches
        self.revocation_listeners: list[Callable[[str | None], None]] = []
        self._ahead: dict[str, Future[str]] = {}  # password -> its hash, being made

    def _revoked(self, token_id: str | None) -> None:
        for listener in self.revocation_listeners:
            listener(token_id)

    # -- passwords -----------------------------------------------------------------------
    def _password_bytes(self, password: str) -> bytes:
        """keystone's verify_length_and_trunc_password: bcrypt reads 72 bytes; longer ones
        are truncated to them (or refused with strict_password_check)."""
        raw = password.encode()
        if len(raw) > BCRYPT_MAX_BYTES:
            if self.strict_password_check:
                raise PasswordVerificationError(size=BCRYPT_MAX_BYTES)
            return raw[:BCRYPT_MAX_BYTES]
        return raw

    def _hash(self, password: str | None) -> str:
        if password is None:
            return "!"  # no password: no password authenticates the user
        raw = self._password_bytes(password)  # refused here if too long and strict
        ahead = self._ahead.pop(password, None)
        if ahead is not None:
            return ahead.result()
        return make_hash(raw, self.rounds)

    def hash_ahead(self, passwords: Sequence[str]) -> None:
        """Start hashing passwords of users about to be created, in threads of their own
        (bcrypt lets go of the GIL): a new cloud builds its other services meanwhile, and
        create_user(s) takes each hash when it is made."""
        self.hashes_ahead(hash_ahead([p for p in passwords if p not in self._ahead], self.rounds))

    def hashes_ahead(self, ahead: Mapping[str, Future[str]]) -> None:
        """Hashes being made (passwords.hash_ahead at this manager's rounds) before it was
        built: create_user(s) takes them as its own hash_ahead's."""
        self._ahead.update(ahead)

    def _hash_all(self, passwords: Sequence[str | None]) -> list[str]:
        """Each password's hash, side by side on every core: bcrypt lets go of the GIL
        while it hashes (keystone hashes one per request; a new cloud has several)."""
        if all(p is None or p in self._ahead for p in passwords):
            return [self._hash(p) for p in passwords]
        workers = min(len(passwords), os.cpu_count() or 1)
        if workers <= 1:
            return [self._hash(p) for p in passwords]
        with ThreadPoolExecutor(workers, thread_name_prefix="keystone-bcrypt") as pool:
            return list(pool.map(self._hash, passwords))

    # -- accounts ----------------------------------------------------------------------
    def create_project(self, name: str, description: str = "", enabled: bool = True) -> str:
        with self.db.session() as s:
            if s.scalar(select(Project).where(Project.name == name)):
                raise Conflict(f"Conflict occurred attempting to store project - {name}.")
            project = Project(id=_new_id(), name=name, description=description, enabled=enabled)
            s.add(project)
            return project.id

    def create_user(
        self, name: str, password: str | None, project: str | None = None, enabled: bool = True
    ) -> str:
        return self._store_user(name, self._hash(password), project, enabled)

    def create_users(self, users: Sequence[tuple[str, str | None, str | None]]) -> list[str]:
        """Create each ``(name, password, project)`` as create_user does, their passwords
        hashed side by side (what a cloud's start-up does with its first half-dozen users:
        at keystone's cost of 12, a quarter of a second of CPU each); their ids."""
        hashes = self._hash_all([password for _, password, _ in users])
        return [
            self._store_user(name, hashed, project, True)
            for (name, _, project), hashed in zip(users, hashes, strict=True)
        ]

    def _store_user(self, name: str, hashed: str, project: str | None, enabled: bool) -> str:
        with self.db.session() as s:
            if s.scalar(select(User).where(User.name == name)):
                raise Conflict(f"Conflict occurred attempting to store user - {name}.")
            default = self._project(s, project).id if project else None
            user = User(
                id=_new_id(),
                name=name,
                password_hash=hashed,
                default_project_id=default,
                enabled=enabled,
            )
            s.add(user)
            return user.id

    def update_user(self, user_id: str, changes: dict[str, Any]) -> None:
        """Change a user's name, password, enabled or default project; a new password or a
        disabled user revokes the user's tokens (a revocation event by user)."""
        revoke = False
        with self.db.session() as s:
            user = self.get(s, User, user_id)
            if "name" in changes and changes["name"] != user.name:
                if s.scalar(select(User).where(User.name == changes["name"])):
                    raise Conflict(
                        f"Conflict occurred attempting to store user - {changes['name']}."
                    )
                user.name = changes["name"]
            if changes.get("password") is not None:
                user.password_hash = self._hash(changes["password"])
                revoke = True
            if "enabled" in changes and changes["enabled"] is not None:
                revoke |= user.enabled and not changes["enabled"]
                user.enabled = changes["enabled"]
            if "default_project_id" in changes:
                pid = changes["default_project_id"]
                user.default_project_id = self.get(s, Project, pid).id if pid else None
            if revoke:
                self.tokens.revoke(s, user_id=user.id)
        if revoke:
            self._revoked(None)

    def delete_user(self, user_id: str) -> None:
        with self.db.session() as s:
            s.delete(self.get(s, User, user_id))
            self.tokens.revoke(s, user_id=user_id)
        self._revoked(None)

    def update_project(self, project_id: str, changes: dict[str, Any]) -> None:
        revoke = False
        with self.db.session() as s:
            project = self.get(s, Project, project_id)
            name = changes.get("name")
            if name is not None and name != project.name:
                if s.scalar(select(Project).where(Project.name == name)):
                    raise Conflict(f"Conflict occurred attempting to store project - {name}.")
                project.name = name
            if changes.get("description") is not None:
                project.description = changes["description"]
            if changes.get("enabled") is not None:
                revoke = project.enabled and not changes["enabled"]
                project.enabled = changes["enabled"]
            if revoke:
                self.tokens.revoke(s, project_id=project.id)
        if revoke:
            self._revoked(None)

    def delete_project(self, project_id: str) -> None:
        with self.db.session() as s:
            project = self.get(s, Project, project_id)
            for user in s.scalars(select(User).where(User.default_project_id == project.id)):
                user.default_project_id = None
            s.delete(project)
            self.tokens.revoke(s, project_id=project_id)
        self._revoked(None)

    def create_role(self, name: str) -> str:
        with self.db.session() as s:
            existing = s.scalar(select(Role).where(Role.name == name))
            if existing:
                return existing.id
            role = Role(id=_new_id(), name=name)
            s.add(role)
            return role.id

    # -- role assignments ----------------------------------------------------------------
    def _grant_parts(self, s: Session, user: str, project: str, role: str) -> tuple[str, str, str]:
        u, p = self._user(s, user), self._project(s, project)
        r = s.scalar(select(Role).where((Role.name == role) | (Role.id == role)))
        if r is None:
            raise NotFound(f"Could not find role: {role}.")
        return u.id, p.id, r.id

    def assign_role(self, user: str, project: str, role: str) -> None:
        with self.db.session() as s:
            uid, pid, rid = self._grant_parts(s, user, project, role)
            if self._assignment(s, uid, pid, rid) is None:
                s.add(Assignment(user_id=uid, project_id=pid, role_id=rid))
        self._revoked(None)  # cached validations carry the old roles

    def unassign_role(self, user: str, project: str, role: str) -> None:
        """Take a role away; the user's tokens on that project are revoked, as keystone's
        delete_grant does."""
        with self.db.session() as s:
            uid, pid, rid = self._grant_parts(s, user, project, role)
            row = self._assignment(s, uid, pid, rid)
            if row is None:
                raise NotFound(f"Could not find role assignment: {rid} for {uid} on {pid}.")
            s.delete(row)
            self.tokens.revoke(s, user_id=uid, project_id=pid)
        self._revoked(None)

    def has_role(self, user: str, project: str, role: str) -> bool:
        with self.db.reader() as s:
            return self._assignment(s, *self._grant_parts(s, user, project, role)) is not None

    @staticmethod
    def _assignment(s: Session, uid: str, pid: str, rid: str) -> Assignment | None:
        return s.scalar(
            select(Assignment).where(
                Assignment.user_id == uid, Assignment.project_id == pid, Assignment.role_id == rid
            )
        )

    def assignments(
        self, user_id: str | None = None, project_id: str | None = None, role_id: str | None = None
    ) -> list[tuple[str, str, str]]:
        """(user id, project id, role id) of every assignment matching the filters."""
        query = select(Assignment.user_id, Assignment.project_id, Assignment.role_id)
        for column, value in (
            (Assignment.user_id, user_id),
            (Assignment.project_id, project_id),
            (Assignment.role_id, role_id),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.db.reader() as s:
            return [(u, p, r) for u, p, r in s.execute(query.order_by(Assignment.id))]

    # -- reading rows ----------------------------------------------------------------------
    def names(self, model: type[Project] | type[User] | type[Role]) -> list[dict[str, str]]:
        """Every row of a table, as ``{"id", "name"}``."""
        with self.db.reader() as s:
            rows: list[Project | User | Role] = list(s.scalars(select(model)))
            return [{"id": row.id, "name": row.name} for row in rows]

    def rows(self, model: type[Row], **where: Any) -> list[Row]:
        """Every row of ``model`` whose columns equal ``where``'s values (detached)."""
        query = select(model)
        for column, value in where.items():
            if value is not None:
                query = query.where(getattr(model, column) == value)
        with self.db.reader() as s:
            found = list(s.scalars(query))
            s.expunge_all()
            return found

    def row(self, model: type[Row], row_id: str) -> Row:
        with self.db.reader() as s:
            found = self.get(s, model, row_id)
            s.expunge(found)
            return found

    @staticmethod
    def get(s: Session, model: type[Row], row_id: str) -> Row:
        found = s.get(model, row_id)
        if found is None:
            raise NotFound(f"Could not find {model.__tablename__}: {row_id}.")
        return found

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
        candidate = self._password_bytes(password)
        with self.db.reader() as s:  # keystone's session_for_read
            account = s.scalar(select(User).where((User.name == user) | (User.id == user)))
        # checked outside the transaction: bcrypt takes a quarter of a second at keystone's
        # cost, and a database lock held meanwhile would queue every other login behind it
        if (
            account is None
            or not account.enabled
            or not account.password_hash.startswith("$2")
            or not bcrypt.checkpw(candidate, account.password_hash.encode())
        ):
            raise Unauthorized("The request you have made requires authentication.")
        return self.issue(account.id, project, methods=("password",))

    def issue(
        self,
        user_id: str,
        project: str | None,
        *,
        methods: tuple[str, ...],
        parent: TokenInfo | None = None,
    ) -> TokenInfo:
        with self.db.reader() as s:
            user = self.get(s, User, user_id)
            scope = None
            if project is not None:
                try:
                    scope = self._project(s, project)
                except NotFound:
                    raise Unauthorized(f"Could not find project {project}.") from None
                if not scope.enabled:
                    raise Unauthorized(f"Project {project} is disabled.")
                if not s.scalar(
                    select(Assignment.id).where(
                        Assignment.user_id == user_id, Assignment.project_id == scope.id
                    )
                ):
                    raise Unauthorized(f"User {user_id} has no access to project {project}.")
            return self.tokens.issue(
                s,
                user,
                scope,
                methods,
                expires_at=parent.expires_at if parent else None,
                parent_audit_id=parent.audit_ids[-1] if parent else None,
            )

    def rescope(self, token_id: str, project: str | None) -> TokenInfo:
        """The ``token`` auth method: a new token for the same user, expiring no later, in
        the same audit chain."""
        old = self.validate(token_id)
        return self.issue(old.user_id, project, methods=("token",), parent=old)

    def validate(self, token_id: str) -> TokenInfo:
        """Who a token belongs to; TokenNotFound when malformed, expired or revoked."""
        return self.tokens.validate(token_id)

    def revoke(self, token_id: str) -> None:
        """``DELETE /v3/auth/tokens``: a revocation event by the token's audit id."""
        info = self.validate(token_id)
        with self.db.session() as s:
            self.tokens.revoke(s, audit_id=info.audit_id)
        self._revoked(token_id)

    # -- catalog -----------------------------------------------------------------------
    def create_service(self, service_type: str, name: str, description: str = "") -> str:
        with self.db.session() as s:
            if s.scalar(select(Service).where(Service.type == service_type)):
                raise Conflict(f"Conflict occurred attempting to store service - {service_type}.")
            service = Service(id=_new_id(), type=service_type, name=name)
            s.add(service)
            return service.id

    def create_endpoint(self, service_id: str, interface: str, url: str, region: str) -> str:
        with self.db.session() as s:
            self.get(s, Service, service_id)
            endpoint = Endpoint(
                id=_new_id(), service_id=service_id, interface=interface, region=region, url=url
            )
            s.add(endpoint)
            return endpoint.id

    def register_endpoint(self, service_type: str, name: str, url: str, region: str) -> None:
        """Publish ``url`` as the public, internal and admin endpoint of a service."""
        with self.db.session() as s:
            service = s.scalar(select(Service).where(Service.type == service_type))
            service_id = service.id if service else None
        if service_id is None:
            service_id = self.create_service(service_type, name)
        for interface in ("public", "internal", "admin"):
            self.create_endpoint(service_id, interface, url, region)

    def catalog(self) -> list[dict[str, Any]]:
        with self.db.reader() as s:
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
