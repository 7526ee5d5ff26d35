"""``labcloud up`` as a student meets it: its users' passwords made for this cloud, its entry
in the user's own clouds.yaml (``openstack --os-cloud labcloud`` with nothing exported),
everything secret 0600, keystone's keys rotated by a command, and ``down`` taking out
exactly what ``up`` put in."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import require

pytestmark = pytest.mark.slow
OPENSTACK = Path(sys.executable).parent / "openstack"
EXPIRATION = 900


class Student:
    def __init__(self, root: Path) -> None:
        self.state, self.config = root / "state", root / "config"
        self.clouds_yaml = self.config / "openstack" / "clouds.yaml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env |= {"XDG_CONFIG_HOME": str(self.config)}
        self.up_output = ""

    def labcloud(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "labcloud.cli", "--state-dir", str(self.state), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=180)

    def openstack(self, *args: str, cloud: str = "labcloud") -> Any:
        cmd = [str(OPENSTACK), "--os-cloud", cloud, *args, "-f", "json"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=180)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def validate(self, token: str) -> int:
        keystone = json.loads((self.state / "cloud.json").read_text())["urls"]["identity"]
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        return httpx.get(keystone + "/v3/auth/tokens", headers=headers).status_code


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Student]:
    require(OPENSTACK.exists(), "python-openstackclient is not installed (the test extra)")
    who = Student(tmp_path_factory.mktemp("student"))
    who.clouds_yaml.parent.mkdir(parents=True)
    who.clouds_yaml.write_text("clouds:\n  work:\n    auth:\n      auth_url: https://w/v3\n")
    started = who.labcloud("up", "--token-expiration", str(EXPIRATION))
    assert started.returncode == 0, started.stdout + started.stderr
    who.up_output = started.stdout
    yield who
    who.labcloud("down")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_passwords_are_made_for_this_cloud_shown_and_private(student: Student) -> None:
    passwords = json.loads((student.state / "credentials.json").read_text())
    assert set(passwords) == {"admin", "demo"}
    assert "demo-secret" not in passwords.values()
    assert len(passwords["demo"]) >= 24
    assert passwords["demo"] in student.up_output
    assert mode(student.state) == 0o700
    for name in ("credentials.json", "clouds.yaml", "openrc", "cloud.json"):
        assert mode(student.state / name) == 0o600, name
    assert mode(student.clouds_yaml) == 0o600
    assert mode(student.state / "data" / "fernet-keys") == 0o700


def test_the_cli_finds_the_cloud_with_nothing_exported(student: Student) -> None:
    clouds = yaml.safe_load(student.clouds_yaml.read_text())["clouds"]
    assert set(clouds) == {"work", "labcloud", "labcloud-admin"}
    token = student.openstack("token", "issue")
    expires = datetime.strptime(token["expires"], "%Y-%m-%dT%H:%M:%S%z")
    left = (expires - datetime.now(UTC)).total_seconds()
    assert EXPIRATION - 120 < left <= EXPIRATION  # --token-expiration reached keystone
    users = student.openstack("user", "list", cloud="labcloud-admin")
    assert {u["Name"] for u in users} >= {"admin", "demo", "nova"}


def test_a_rotation_keeps_issued_tokens_valid(student: Student) -> None:
    token = student.openstack("token", "issue")["id"]
    rotated = student.labcloud("token", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "primary" in rotated.stdout
    assert student.validate(token) == 200  # its key is a secondary now
    assert student.validate(student.openstack("token", "issue")["id"]) == 200


def test_a_refused_database_is_a_message_not_a_traceback(student: Student) -> None:
    other = Student(student.state.parent / "other")
    refused = other.labcloud("up", "--database-url", "postgresql://nobody@127.0.0.1:1/labcloud")
    assert refused.returncode == 1
    assert "labcloud cannot use the keystone database" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr


def test_down_removes_exactly_its_entries(student: Student) -> None:
    stopped = student.labcloud("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert set(yaml.safe_load(student.clouds_yaml.read_text())["clouds"]) == {"work"}
