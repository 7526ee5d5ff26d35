"""keystone's passwords: bcrypt hashes at ``[identity] password_hash_rounds``, the password
cut to the 72 bytes bcrypt reads, and passwords made for one cloud.

Light on purpose (bcrypt and the standard library): the in-kernel cloud starts hashing its
users' passwords before it imports its services, in threads of their own (bcrypt lets go
of the GIL, and a quarter of a second of CPU each at keystone's cost is the larger part of
a new cloud's start), then hands the hashes to keystone's manager.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import bcrypt

if TYPE_CHECKING:
    from labcloud.spec import CloudSpec

BCRYPT_ROUNDS = 12  # keystone's [identity] password_hash_rounds for bcrypt
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; keystone truncates to it


def new_password() -> str:
    """A password made for one cloud: 24 random bytes, URL-safe (32 characters)."""
    return secrets.token_urlsafe(24)


def spec_passwords(spec: CloudSpec, known: dict[str, str] | None = None) -> dict[str, str]:
    """Each spec user's password: the spec's own, else ``known``'s (kept from an earlier
    run), else a new one."""
    known = known or {}
    return {u.name: u.password or known.get(u.name) or new_password() for u in spec.users}


def make_hash(password: bytes, rounds: int) -> str:
    """``password`` (already cut to BCRYPT_MAX_BYTES) hashed with a new salt."""
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds)).decode()


def hash_ahead(passwords: Sequence[str], rounds: int) -> dict[str, Future[str]]:
    """Start hashing each password, side by side on every core; ``{password: its hash,
    being made}`` (the threads end once the hashes are made)."""
    todo = list(dict.fromkeys(passwords))
    workers = min(len(todo), os.cpu_count() or 1)
    if not workers:
        return {}
    pool = ThreadPoolExecutor(workers, thread_name_prefix="keystone-bcrypt")
    ahead = {p: pool.submit(make_hash, p.encode()[:BCRYPT_MAX_BYTES], rounds) for p in todo}
    pool.shutdown(wait=False)
    return ahead
