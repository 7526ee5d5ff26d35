"""IdentityManager.create_users: several users at once, each as create_user makes one."""

from __future__ import annotations

import threading

import bcrypt
import pytest

from labcloud.exceptions import Conflict, Unauthorized
from labcloud.identity.manager import IdentityManager


@pytest.fixture
def keystone() -> IdentityManager:
    manager = IdentityManager("sqlite://", bcrypt_rounds=4)
    manager.create_project("service")
    return manager


def test_each_user_authenticates_with_its_own_password(keystone: IdentityManager) -> None:
    ids = keystone.create_users(
        [("nova", "pw-nova", "service"), ("glance", "pw-glance", "service"), ("x", None, None)]
    )
    assert len(set(ids)) == 3
    assert keystone.authenticate("nova", "pw-nova", None).user_id == ids[0]
    assert keystone.authenticate("glance", "pw-glance", None).user_id == ids[1]
    with pytest.raises(Unauthorized):  # passwords are not swapped between users
        keystone.authenticate("nova", "pw-glance", None)
    with pytest.raises(Unauthorized):  # no password: nothing authenticates
        keystone.authenticate("x", "", None)


def test_the_hashes_are_made_side_by_side(
    keystone: IdentityManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two passwords are hashed at once (one thread each), not one after the other."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    both = threading.Barrier(2, timeout=10)  # breaks if the second hash waits for the first
    hash_one = keystone._hash

    def meet_then_hash(password: str | None) -> str:
        both.wait()
        return hash_one(password)

    monkeypatch.setattr(keystone, "_hash", meet_then_hash)
    keystone.create_users([("a", "pw-a", "service"), ("b", "pw-b", "service")])
    assert keystone.authenticate("b", "pw-b", None)


def test_a_name_taken_is_a_conflict(keystone: IdentityManager) -> None:
    keystone.create_user("nova", "pw", "service")
    with pytest.raises(Conflict):
        keystone.create_users([("nova", "other", "service")])


def test_passwords_are_checked_side_by_side(
    keystone: IdentityManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two logins check their passwords at once: no lock (the database's) is held while
    bcrypt works, or every login would queue behind the one being checked."""
    keystone.create_users([("a", "pw-a", "service"), ("b", "pw-b", "service")])
    both = threading.Barrier(2, timeout=10)  # breaks if the second check waits for the first
    check = bcrypt.checkpw

    def meet_then_check(password: bytes, hashed: bytes) -> bool:
        both.wait()
        return check(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", meet_then_check)
    users: list[str] = []
    threads = [
        threading.Thread(
            target=lambda n=n: users.append(keystone.authenticate(n, f"pw-{n}", None).user_id)
        )
        for n in "ab"
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(users)) == 2
