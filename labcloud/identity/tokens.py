"""keystone's token provider: Fernet tokens and revocation events, over the identity database.

Issuing writes nothing; validating decrypts the token, checks its expiry, then the
revocation events (``DELETE /v3/auth/tokens`` records one by the token's audit id; deleting
or disabling a user or project, changing a password or removing a role record one by user
or project), then that the user, project and roles still exist, as keystone's
``validate_token`` does. Events are pruned once no token they could match is still alive.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labcloud.db import Database
from labcloud.exceptions import NotFound
from labcloud.identity import fernet
from labcloud.identity.models import Assignment, Project, RevocationEvent, Role, User

EXPIRATION_BUFFER = 1800  # keystone's [revoke] expiration_buffer: events outlive tokens by it


class TokenNotFound(NotFound):
    msg_fmt = "Could not find token: %(token_id)s."


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def new_audit_id() -> str:
    """keystone's random_urlsafe_str: 16 random bytes, urlsafe base64, 22 characters."""
    return secrets.token_urlsafe(16)[:22]


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
    audit_ids: tuple[str, ...] = ()  # the token's own, then its parent's when rescoped


def roles_of(s: Session, user_id: str, project_id: str) -> tuple[tuple[str, str], ...]:
    rows = s.execute(
        select(Role.id, Role.name)
        .join(Assignment, Assignment.role_id == Role.id)
        .where(Assignment.user_id == user_id, Assignment.project_id == project_id)
    )
    return tuple((rid, name) for rid, name in rows)


class TokenProvider:
    def __init__(
        self,
        db: Database,
        keys: fernet.KeyRepository,
        expiration: int,
    ) -> None:
        self.db, self.keys, self.expiration = db, keys, expiration

    def issue(
        self,
        s: Session,
        user: User,
        project: Project | None,
        methods: tuple[str, ...],
        *,
        expires_at: datetime | None = None,
        parent_audit_id: str | None = None,
    ) -> TokenInfo:
        issued = now()
        expires = expires_at or issued + timedelta(seconds=self.expiration)
        audit_ids = (new_audit_id(),) + ((parent_audit_id,) if parent_audit_id else ())
        payload = fernet.Payload(
            user.id, methods, project.id if project else None, expires, audit_ids
        )
        token = fernet.encode(self.keys, payload)
        # built from what was just issued, not re-validated: a short expiry on a slow
        # machine must not turn a token just issued into "not found"
        return self._info(s, token, payload, issued, user, project)

    def validate(self, token: str) -> TokenInfo:
        """Who a token belongs to; TokenNotFound when malformed, expired or revoked."""
        try:
            payload, issued = fernet.decode(self.keys, token)
        except fernet.MalformedToken:
            raise TokenNotFound(token_id=token) from None
        if payload.expires_at <= now():
            raise TokenNotFound(token_id=token)
        with self.db.reader() as s:
            user = s.get(User, payload.user_id)
            project = s.get(Project, payload.project_id) if payload.project_id else None
            if user is None or not user.enabled or (payload.project_id and project is None):
                raise TokenNotFound(token_id=token)
            if project is not None and not project.enabled:
                raise TokenNotFound(token_id=token)
            info = self._info(s, token, payload, issued, user, project)
            if project is not None and not info.roles:
                raise TokenNotFound(token_id=token)
            if self._revoked(s, info):
                raise TokenNotFound(token_id=token)
            return info

    def _info(
        self,
        s: Session,
        token: str,
        payload: fernet.Payload,
        issued: datetime,
        user: User,
        project: Project | None,
    ) -> TokenInfo:
        return TokenInfo(
            id=token,
            user_id=user.id,
            user_name=user.name,
            project_id=project.id if project else None,
            project_name=project.name if project else None,
            roles=roles_of(s, user.id, project.id) if project else (),
            methods=payload.methods,
            audit_id=payload.audit_ids[0],
            audit_ids=payload.audit_ids,
            issued_at=issued,
            expires_at=payload.expires_at,
        )

    # -- revocation events ---------------------------------------------------------------
    @staticmethod
    def _revoked(s: Session, info: TokenInfo) -> bool:
        """Does a revocation event match the token (keystone's revoke_model.matches)?"""
        events = s.scalars(
            select(RevocationEvent).where(RevocationEvent.issued_before >= info.issued_at)
        )
        role_ids = {rid for rid, _ in info.roles}
        for e in events:
            if (
                (e.user_id is None or e.user_id == info.user_id)
                and (e.project_id is None or e.project_id == info.project_id)
                and (e.role_id is None or e.role_id in role_ids)
                and (e.audit_id is None or e.audit_id == info.audit_id)
                and (e.audit_chain_id is None or e.audit_chain_id == info.audit_ids[-1])
            ):
                return True
        return False

    def revoke(self, s: Session, **match: str | None) -> None:
        """Record a revocation event (``audit_id=``, ``user_id=``, ``project_id=`` ...) and
        prune the events no living token can match."""
        moment = now()
        s.add(RevocationEvent(issued_before=moment, revoked_at=moment, **match))
        oldest = moment - timedelta(seconds=self.expiration + EXPIRATION_BUFFER)
        s.execute(delete(RevocationEvent).where(RevocationEvent.revoked_at < oldest))

    def events(self) -> list[RevocationEvent]:
        with self.db.reader() as s:
            rows = list(s.scalars(select(RevocationEvent).order_by(RevocationEvent.id)))
            s.expunge_all()
            return rows
