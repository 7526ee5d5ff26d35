"""The files a client logs in with: clouds.yaml and an openrc, all 0600.

``labcloud up`` writes both into the cloud's state directory and, as DevStack does, merges
its entries (``labcloud`` as demo, ``labcloud-admin`` as admin) into the user's own
clouds.yaml, where the openstack CLI and openstacksdk look by default
(``$XDG_CONFIG_HOME/openstack/clouds.yaml``, else ``~/.config/openstack/clouds.yaml``, or
``$OS_CLIENT_CONFIG_FILE`` when set), so
``openstack --os-cloud labcloud server list`` works with nothing exported. The user's other
clouds are kept; ``labcloud down`` removes exactly the entries it added (those still
pointing at its keystone).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from labcloud.private import read_json, write_private

# entry name -> (user, project), as DevStack's devstack / devstack-admin
ENTRIES = {"labcloud": ("demo", "demo"), "labcloud-admin": ("admin", "admin")}
MERGED = "user-clouds.json"  # in the state directory: what was merged where, for `down`


def user_clouds_yaml(env: Mapping[str, str] | None = None) -> Path:
    """The clouds.yaml the openstack CLI reads: $OS_CLIENT_CONFIG_FILE when set (it then
    reads no other), else the user's own."""
    env = os.environ if env is None else env
    if env.get("OS_CLIENT_CONFIG_FILE"):
        return Path(env["OS_CLIENT_CONFIG_FILE"])
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", Path.home())) / ".config")
    return Path(base) / "openstack" / "clouds.yaml"


def entries(auth_url: str, passwords: Mapping[str, str], region: str) -> dict[str, Any]:
    """clouds.yaml entries for the users that have a password."""
    made = {}
    for name, (user, project) in ENTRIES.items():
        if user in passwords:
            made[name] = {
                "auth": {
                    "auth_url": auth_url,
                    "username": user,
                    "password": passwords[user],
                    "project_name": project,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "region_name": region,
                "identity_api_version": 3,
                "interface": "public",
            }
    return made


def openrc(cloud: Mapping[str, Any]) -> str:
    auth = cloud["auth"]
    return (
        f"export OS_AUTH_URL={auth['auth_url']}\nexport OS_USERNAME={auth['username']}\n"
        f"export OS_PASSWORD='{auth['password']}'\nexport OS_PROJECT_NAME={auth['project_name']}\n"
        "export OS_USER_DOMAIN_NAME=Default\nexport OS_PROJECT_DOMAIN_NAME=Default\n"
        f"export OS_REGION_NAME={cloud['region_name']}\nexport OS_IDENTITY_API_VERSION=3\n"
    )


def _dump(clouds: Mapping[str, Any]) -> str:
    return str(yaml.safe_dump({"clouds": dict(clouds)}, default_flow_style=False, sort_keys=False))


def write_state_files(state: Path, clouds: Mapping[str, Any]) -> tuple[Path, Path]:
    """``<state>/clouds.yaml`` (every entry) and ``<state>/openrc`` (demo's), 0600."""
    yaml_path = write_private(state / "clouds.yaml", _dump(clouds))
    rc_path = write_private(state / "openrc", openrc(clouds["labcloud"]))
    return yaml_path, rc_path


def _load(path: Path) -> dict[str, Any]:
    """The clouds.yaml at ``path`` ({} when missing); ValueError when it is not one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("clouds", {}), dict):
        raise ValueError(f"{path} is not a clouds.yaml (no 'clouds' mapping)")
    return data


def merge(state: Path, clouds: Mapping[str, Any], path: Path | None = None) -> Path:
    """Put ``clouds`` into the user's clouds.yaml (0600), replacing entries of the same
    name and keeping every other; remembered in the state directory for ``remove``."""
    path = path or user_clouds_yaml()
    data = _load(path)
    data.setdefault("clouds", {}).update(clouds)
    write_private(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=False))
    auth_urls = {name: c["auth"]["auth_url"] for name, c in clouds.items()}
    write_private(state / MERGED, json.dumps({"path": str(path), "entries": auth_urls}))
    return path


def remove(state: Path) -> list[str]:
    """Take out of the user's clouds.yaml the entries ``merge`` put there, if they still
    point at this cloud; returns the names removed."""
    merged = read_json(state / MERGED)
    if not merged:
        return []
    path = Path(merged["path"])
    try:
        data = _load(path)
    except (OSError, ValueError, yaml.YAMLError):
        return []
    clouds: dict[str, Any] = data.get("clouds", {})
    gone = [
        name
        for name, url in dict(merged["entries"]).items()
        if isinstance(clouds.get(name), dict)
        and clouds[name].get("auth", {}).get("auth_url") == url
    ]
    for name in gone:
        del clouds[name]
    if gone:
        write_private(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=False))
    (state / MERGED).unlink(missing_ok=True)
    return gone
