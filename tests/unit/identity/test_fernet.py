"""keystone's Fernet keys and tokens: the repository's layout, rotation, the payload."""

from __future__ import annotations

import stat
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from labcloud.identity import fernet
from labcloud.identity.fernet import KeyRepository, MalformedToken, Payload
from labcloud.identity.tokens import new_audit_id


def payload(project: str | None = None, **changes: object) -> Payload:
    values: dict[str, object] = {
        "user_id": uuid.uuid4().hex,
        "methods": ("password",),
        "project_id": project,
        "expires_at": datetime(2030, 1, 2, 3, 4, 5),
        "audit_ids": ("AAAAAAAAAAAAAAAAAAAAAA",),
    }
    return Payload(**(values | changes))  # type: ignore[arg-type]


def test_setup_makes_a_staged_and_a_primary_key_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    keys = KeyRepository(tmp_path / "fernet-keys")
    assert keys.setup() is True
    assert keys.indexes() == [0, 1]
    assert stat.S_IMODE((tmp_path / "fernet-keys").stat().st_mode) == 0o700
    for f in (tmp_path / "fernet-keys").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        Fernet(f.read_bytes())  # each file is one Fernet key
    assert keys.setup() is False  # run again: nothing changes
    assert keys.indexes() == [0, 1]


def test_rotation_promotes_the_staged_key_and_purges_the_oldest(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k", max_active_keys=3)
    keys.setup()
    staged = (tmp_path / "k" / "0").read_bytes()
    assert keys.rotate() == (2, [])
    assert (tmp_path / "k" / "2").read_bytes() == staged  # the staged key became primary
    assert (tmp_path / "k" / "0").read_bytes() != staged  # and a new one is staged
    assert keys.indexes() == [0, 1, 2]
    assert keys.rotate() == (3, [1])
    assert keys.indexes() == [0, 2, 3]


def test_a_token_survives_rotations_until_its_key_is_purged(tmp_path: Path) -> None:
    keys = KeyRepository(tmp_path / "k", max_active_keys=3)
    keys.setup()
    sent = payload(uuid.uuid4().hex)
    token = fernet.encode(keys, sent)
    keys.rotate()  # its key (1) is a secondary now
    assert fernet.decode(keys, token)[0] == sent
    keys.rotate()  # key 1 purged
    with pytest.raises(MalformedToken):
        fernet.decode(keys, token)


def test_a_token_made_with_the_staged_key_validates(tmp_path: Path) -> None:
    """Why keys are staged: another keystone may already encrypt with it."""
    keys = KeyRepository(tmp_path / "k")
    keys.setup()
    other = KeyRepository(tmp_path / "other")
    other.setup()
    (tmp_path / "other" / "1").write_bytes((tmp_path / "k" / "0").read_bytes())
    sent = payload()
    assert fernet.decode(keys, fernet.encode(other, sent))[0] == sent


def test_payloads_round_trip_as_keystones() -> None:
    keys = KeyRepository(None)
    keys.setup()
    for sent in (
        payload(),
        payload(uuid.uuid4().hex, methods=("password", "token")),
        payload("not-a-uuid", user_id="also-not", audit_ids=(new_audit_id(), new_audit_id())),
    ):
        token = fernet.encode(keys, sent)
        assert "=" not in token  # keystone strips the padding
        back, issued = fernet.decode(keys, token)
        assert back == sent
        assert abs(issued - datetime.utcnow()) < timedelta(minutes=5)


@pytest.mark.parametrize(
    "token",
    ["", "x", "gAAAAA" + "A" * 100, "é" * 40, "\x00" * 10, Fernet.generate_key().decode()],
)
def test_anything_else_is_a_malformed_token(token: str) -> None:
    keys = KeyRepository(None)
    keys.setup()
    with pytest.raises(MalformedToken):
        fernet.decode(keys, token)


def test_a_foreign_payload_under_the_right_key_is_malformed() -> None:
    keys = KeyRepository(None)
    keys.setup()
    for body in (b"\x93\x07\x01\x02", b"not msgpack \xc1", b"\x91\x02"):
        token = keys.crypto().encrypt(body).rstrip(b"=").decode()
        with pytest.raises(MalformedToken):
            fernet.decode(keys, token)


def test_a_repository_without_keys_says_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="labcloud token setup"):
        KeyRepository(tmp_path / "none").crypto()
