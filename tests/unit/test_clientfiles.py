"""clouds.yaml and openrc: 0600, merged into the user's clouds.yaml and taken out again."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from labcloud import clientfiles

PASSWORDS = {"demo": "d-pw", "admin": "a-pw"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_user_clouds_yaml_is_where_the_openstack_cli_looks() -> None:
    assert clientfiles.user_clouds_yaml({"HOME": "/home/s"}) == Path(
        "/home/s/.config/openstack/clouds.yaml"
    )
    assert clientfiles.user_clouds_yaml({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/openstack/clouds.yaml"
    )
    env = {"HOME": "/h", "OS_CLIENT_CONFIG_FILE": "/o/c.yaml"}
    assert clientfiles.user_clouds_yaml(env) == Path("/o/c.yaml")


def test_state_files_are_private(tmp_path: Path) -> None:
    clouds = clientfiles.entries("http://127.0.0.1:5000/v3", PASSWORDS, "RegionOne")
    yaml_path, rc = clientfiles.write_state_files(tmp_path, clouds)
    assert mode(yaml_path) == mode(rc) == 0o600
    loaded = yaml.safe_load(yaml_path.read_text())["clouds"]
    assert loaded["labcloud"]["auth"]["password"] == "d-pw"
    assert loaded["labcloud-admin"]["auth"]["username"] == "admin"
    assert "export OS_PASSWORD='d-pw'" in rc.read_text()


def test_merge_keeps_the_users_clouds_and_down_removes_exactly_its_own(tmp_path: Path) -> None:
    mine = tmp_path / "home" / "clouds.yaml"
    mine.parent.mkdir()
    mine.write_text("clouds:\n  work:\n    auth:\n      auth_url: https://work/v3\n")
    state = tmp_path / "state"
    clouds = clientfiles.entries("http://127.0.0.1:5000/v3", PASSWORDS, "RegionOne")
    clientfiles.merge(state, clouds, mine)
    merged = yaml.safe_load(mine.read_text())["clouds"]
    assert set(merged) == {"work", "labcloud", "labcloud-admin"}
    assert mode(mine) == 0o600
    assert clientfiles.remove(state) == ["labcloud", "labcloud-admin"]
    assert set(yaml.safe_load(mine.read_text())["clouds"]) == {"work"}
    assert clientfiles.remove(state) == []  # nothing left to remove


def test_an_entry_another_cloud_took_over_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "clouds.yaml"
    first, second = tmp_path / "first", tmp_path / "second"
    clientfiles.merge(first, clientfiles.entries("http://127.0.0.1:1/v3", PASSWORDS, "R"), mine)
    clientfiles.merge(second, clientfiles.entries("http://127.0.0.1:2/v3", PASSWORDS, "R"), mine)
    assert clientfiles.remove(first) == []  # `down` of the first cloud: the entries are not its
    assert clientfiles.remove(second) == ["labcloud", "labcloud-admin"]


def test_a_file_that_is_not_a_clouds_yaml_is_not_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "clouds.yaml"
    mine.write_text("- just\n- a list\n")
    clouds = clientfiles.entries("http://127.0.0.1:5000/v3", PASSWORDS, "RegionOne")
    with pytest.raises(ValueError, match=r"not a clouds\.yaml"):
        clientfiles.merge(tmp_path / "state", clouds, mine)
    assert mine.read_text() == "- just\n- a list\n"
