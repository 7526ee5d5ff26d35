"""Fernet tokens, as keystone makes them: nothing stored, everything in the token.

A token is a msgpack'd payload (user, methods, project, expiry, audit ids), encrypted and
signed with a Fernet key (``cryptography``), padding stripped. Any keystone holding the key
repository can validate it; the database keeps no token at all, only revocation events.

The key repository is keystone's ``/etc/keystone/fernet-keys``: one file per key, named by
its index, 0600 in a 0700 directory. Key ``0`` is *staged* (known, never used to encrypt),
the highest index is the *primary* (encrypts new tokens), the ones between are
*secondaries* (still decrypt older tokens). ``rotate()`` is ``keystone-manage
fernet_rotate``: the staged key becomes the new primary, a new staged key is made, and the
oldest secondaries beyond ``max_active_keys`` go.
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgpack
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAX_ACTIVE_KEYS = 3  # keystone's [fernet_tokens] max_active_keys
# keystone's [auth] methods, in order: a token's methods travel as a bit field over them
METHODS = ("external", "password", "token", "oauth1", "mapped", "application_credential")
UNSCOPED, PROJECT_SCOPED = 0, 2  # keystone's payload versions


class MalformedToken(ValueError):
    """Not a token of this keystone: bad base64, a key it does not hold, a foreign payload."""


class KeyRepository:
    """keystone's fernet key repository at ``path`` (None: keys held in memory only)."""

    def __init__(self, path: Path | None, max_active_keys: int = MAX_ACTIVE_KEYS) -> None:
        if max_active_keys < 2:
            raise ValueError("max_active_keys must be at least 2 (a staged and a primary key)")
        self.path = path
        self.max_active_keys = max_active_keys
        self._memory: dict[int, bytes] = {}
        self._changes = 0  # of the in-memory keys
        self._loaded: tuple[int, MultiFernet] | None = None

    # -- keystone-manage fernet_setup / fernet_rotate -------------------------------------
    def setup(self) -> bool:
        """Create the repository with a staged and a primary key; False if it had keys."""
        if self.path is not None:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path.chmod(0o700)
        if self._read():
            return False
        self._write(0, Fernet.generate_key())
        self.rotate()
        return True

    def rotate(self) -> tuple[int, list[int]]:
        """Promote the staged key to primary, stage a new key, purge the oldest secondaries;
        returns the new primary's index and the purged ones'."""
        keys = self._read()
        if 0 not in keys:
            raise FileNotFoundError(f"no staged key in {self.path or 'memory'}: run setup first")
        primary = max(keys) + 1
        self._write(primary, keys.pop(0))
        self._write(0, Fernet.generate_key())
        purged = sorted(keys)[: max(0, len(keys) + 2 - self.max_active_keys)]
        for index in purged:
            self._remove(index)
        return primary, purged

    def indexes(self) -> list[int]:
        return sorted(self._read())

    # -- encrypt / decrypt ---------------------------------------------------------------
    def crypto(self) -> MultiFernet:
        """Every key, primary first (it encrypts), staged last; reloaded when the directory
        changes, so a running keystone picks up a rotation as keystone does."""
        if self.path is not None and not self.path.is_dir():
            raise FileNotFoundError(self._missing())
        stamp = self.path.stat().st_mtime_ns if self.path is not None else self._changes
        if self._loaded is None or self._loaded[0] != stamp:
            keys = self._read()
            if len(keys) < 2:
                raise FileNotFoundError(self._missing())
            order = [*sorted((i for i in keys if i), reverse=True), 0]
            self._loaded = (stamp, MultiFernet([Fernet(keys[i]) for i in order]))
        return self._loaded[1]

    def _missing(self) -> str:
        return (
            f"the fernet key repository {self.path or '(memory)'} has no primary key: "
            "run `labcloud token setup` (keystone-manage fernet_setup)"
        )

    def _read(self) -> dict[int, bytes]:
        if self.path is None:
            return dict(self._memory)
        if not self.path.is_dir():
            return {}
        return {
            int(f.name): f.read_bytes().strip()
            for f in self.path.iterdir()
            if f.name.isdigit() and f.is_file()
        }

    def _write(self, index: int, key: bytes) -> None:
        if self.path is None:
            self._memory[index] = key
            self._changes += 1
            return
        temp = self.path / f".{index}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        os.replace(temp, self.path / str(index))

    def _remove(self, index: int) -> None:
        if self.path is None:
            self._memory.pop(index, None)
            self._changes += 1
        else:
            (self.path / str(index)).unlink(missing_ok=True)


@dataclass(frozen=True)
class Payload:
    """What a keystone Fernet token carries (roles are not in it: they are looked up)."""

    user_id: str
    methods: tuple[str, ...]
    project_id: str | None
    expires_at: datetime  # naive UTC
    audit_ids: tuple[str, ...]  # the token's own, then its parent's when rescoped


def _pack_id(value: str) -> tuple[bool, bytes]:
    """keystone's attempt_convert_uuid_hex_to_bytes: a uuid4 hex id travels as 16 bytes."""
    try:
        if uuid.UUID(hex=value).hex == value:
            return True, uuid.UUID(hex=value).bytes
    except ValueError:
        pass
    return False, value.encode()


def _unpack_id(packed: list[object]) -> str:
    is_uuid, raw = packed
    if not isinstance(raw, bytes):
        raise MalformedToken("an id that is not bytes")
    return uuid.UUID(bytes=raw).hex if is_uuid else raw.decode()


def _audit_bytes(audit_id: str) -> bytes:
    return base64.urlsafe_b64decode(audit_id + "==")


def _audit_str(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode(keys: KeyRepository, p: Payload) -> str:
    methods = sum(1 << METHODS.index(m) for m in p.methods)
    expires = p.expires_at.replace(tzinfo=UTC).timestamp()
    audits = [_audit_bytes(a) for a in p.audit_ids]
    if p.project_id is None:
        body: list[object] = [UNSCOPED, _pack_id(p.user_id), methods, expires, audits]
    else:
        body = [PROJECT_SCOPED, _pack_id(p.user_id), methods, _pack_id(p.project_id)]
        body += [expires, audits]
    token = keys.crypto().encrypt(msgpack.packb(body))
    return token.rstrip(b"=").decode()


def decode(keys: KeyRepository, token: str) -> tuple[Payload, datetime]:
    """The payload and the moment the token was made (its Fernet timestamp)."""
    try:
        raw = (token + "=" * (-len(token) % 4)).encode("ascii")
        crypto = keys.crypto()
        body = msgpack.unpackb(crypto.decrypt(raw))
        issued = datetime.fromtimestamp(crypto.extract_timestamp(raw), UTC)
        version, user, methods, *rest = body
        project = _unpack_id(rest.pop(0)) if version == PROJECT_SCOPED else None
        if version not in (UNSCOPED, PROJECT_SCOPED) or len(rest) != 2:
            raise MalformedToken(f"payload version {version}")
        expires, audits = rest
        payload = Payload(
            user_id=_unpack_id(user),
            methods=tuple(m for i, m in enumerate(METHODS) if methods & (1 << i)),
            project_id=project,
            expires_at=datetime.fromtimestamp(expires, UTC).replace(tzinfo=None),
            audit_ids=tuple(_audit_str(a) for a in audits),
        )
    except (
        InvalidToken,
        UnicodeError,
        ValueError,
        TypeError,
        IndexError,
        msgpack.UnpackException,
    ) as exc:
        raise MalformedToken(str(exc) or type(exc).__name__) from exc
    return payload, issued.replace(tzinfo=None)
