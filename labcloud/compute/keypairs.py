"""nova's os-keypairs: a user's SSH public keys by name, generated or imported.

A generated key's private half is returned once and never stored, as nova does. An instance
booted with ``key_name`` records the name and the public key on its row (``key_name``,
``key_data``), as nova does; nova's metadata service then serves it to cloud-init as
``public-keys``. labcloud has no metadata service yet: the key stays on the row.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select

from labcloud.compute.instances import now
from labcloud.compute.models import KeyPair
from labcloud.compute.schemas import plain
from labcloud.db import Database
from labcloud.exceptions import Conflict, Forbidden, Invalid, NotFound

KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384")


class KeypairLimitExceeded(Forbidden):
    msg_fmt = "Maximum number of key pairs exceeded"  # nova answers it with 403


def fingerprint(public_key: str) -> str:
    """The key's MD5 fingerprint in colon-separated hex, as nova shows it."""
    parts = public_key.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise Invalid("Keypair data is invalid: failed to parse the public key.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    except ValueError:
        raise Invalid("Keypair data is invalid: failed to parse the public key.") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def _view(row: KeyPair) -> dict[str, Any]:
    return {
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
        "type": row.type,
        "user_id": row.user_id,
        "created_at": row.created_at.isoformat(),
        "deleted": False,
        "deleted_at": None,
        "updated_at": None,
        "id": 0,
    }


class KeyPairs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, user_id: str, name: str, public_key: str | None, key_type: str, limit: int
    ) -> dict[str, Any]:
        private = None
        if public_key is None:  # generate one: ed25519, the private half shown once
            key = ed25519.Ed25519PrivateKey.generate()
            private = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ).decode()
            public_key = (
                key.public_key()
                .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
                .decode()
                + f" Generated-by-Nova-for-{name}"
            )
        row = KeyPair(
            user_id=user_id,
            name=name,
            fingerprint=fingerprint(public_key),
            public_key=public_key.strip(),
            type=key_type,
            created_at=now(),
        )
        with self.db.session() as s:
            if s.get(KeyPair, (user_id, name)) is not None:
                raise Conflict(f"Key pair '{name}' already exists.")
            count = s.scalar(select(func.count()).where(KeyPair.user_id == user_id)) or 0
            if 0 <= limit <= count:
                raise KeypairLimitExceeded()
            s.add(row)
            result = _view(row)
        return result | ({"private_key": private} if private else {})

    def list(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            rows = s.scalars(select(KeyPair).where(KeyPair.user_id == user_id).order_by("name"))
            return [_view(r) for r in rows]

    def get(self, user_id: str, name: str) -> dict[str, Any]:
        if not plain(name):
            raise NotFound(f"Keypair {name[:64]!r} not found for user {user_id}")
        with self.db.reader() as s:
            row = s.get(KeyPair, (user_id, name))
            if row is None:
                raise NotFound(f"Keypair {name} not found for user {user_id}")
            return _view(row)

    def delete(self, user_id: str, name: str) -> None:
        self.get(user_id, name)
        with self.db.session() as s:
            row = s.get(KeyPair, (user_id, name))
            if row is None:
                raise NotFound(f"Keypair {name} not found for user {user_id}")
            s.delete(row)
