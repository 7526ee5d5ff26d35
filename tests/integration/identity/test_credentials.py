"""Every user's password is made for its cloud (under JupyterHub, thirty students' clouds
listen on one machine: a shared constant would let any student into a neighbour's)."""

from __future__ import annotations

import stat

import bcrypt
import httpx
import pytest

from labcloud.binaries.content import load_accounts
from labcloud.cloud import LabCloud
from labcloud.config import Settings
from labcloud.identity.manager import IdentityManager
from labcloud.identity.models import User
from labcloud.spec import CloudSpec, UserSpec


def test_each_load_makes_new_passwords_that_log_in() -> None:
    made = []
    for _ in range(2):
        service = IdentityManager("sqlite://", bcrypt_rounds=4)
        try:
            passwords = load_accounts(service, CloudSpec.demo())
            assert set(passwords) == {"admin", "demo"}
            assert service.authenticate("demo", passwords["demo"], "demo").user_name
            made.append(passwords)
        finally:
            service.dispose()
    assert made[0]["demo"] != made[1]["demo"]
    assert made[0]["admin"] != made[0]["demo"]


def test_a_password_the_spec_gives_is_kept() -> None:
    spec = CloudSpec.demo().but(users=(UserSpec("ann", "chosen", "demo"),))
    service = IdentityManager("sqlite://", bcrypt_rounds=4)
    try:
        assert load_accounts(service, spec) == {"ann": "chosen"}
    finally:
        service.dispose()


def test_bcrypt_cost_is_keystones_12_unless_asked() -> None:
    for rounds, prefix in ((None, b"$2b$12$"), (4, b"$2b$04$")):
        kwargs = {} if rounds is None else {"bcrypt_rounds": rounds}
        manager = IdentityManager("sqlite://", **kwargs)  # type: ignore[arg-type]
        try:
            manager.create_user("u", "pw")
            (user,) = manager.rows(User, name="u")
            assert user.password_hash.encode().startswith(prefix)
            assert bcrypt.checkpw(b"pw", user.password_hash.encode())
        finally:
            manager.dispose()


def test_a_cloud_shows_its_credentials_and_keeps_its_keys_private() -> None:
    with LabCloud(settings=Settings(password_hash_rounds=4)) as cloud:
        demo = cloud.credentials("demo")
        assert demo["auth_url"] == cloud.urls["identity"] + "/v3"
        assert demo["project_name"] == "demo"
        assert len(demo["password"]) >= 24
        assert demo["password"] != cloud.credentials("admin")["password"]
        token = cloud.login("demo")  # uses the password made for this cloud
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        assert httpx.get(demo["auth_url"] + "/auth/tokens", headers=headers).status_code == 200
        wrong = {"name": "demo", "domain": {"id": "default"}, "password": "demo-secret"}
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": wrong}}}}
        assert httpx.post(demo["auth_url"] + "/auth/tokens", json=body).status_code == 401
        keys = cloud.state_dir / "fernet-keys"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o700
        assert sorted(p.name for p in keys.iterdir()) == ["0", "1"]
        with pytest.raises(KeyError, match="no user 'nobody'"):
            cloud.credentials("nobody")


def test_token_expiration_comes_from_the_spec() -> None:
    spec = CloudSpec.demo(hosts=1).but(token_expiration=120)
    with LabCloud(spec, Settings(password_hash_rounds=4)) as cloud:
        token = cloud.login("demo")
        info = cloud.identity.manager.validate(token)
        assert (info.expires_at - info.issued_at).total_seconds() == pytest.approx(120, abs=2)
