"""``labcloud up --processes --token-expiration`` reaches keystone's [token] expiration."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from labcloud.binaries.processes import write_config
from labcloud.conf import load


def args(**changes: object) -> SimpleNamespace:
    values = {"database_url": None, "report_interval": 10.0, "service_down_time": 60.0}
    return SimpleNamespace(**(values | {"driver": "fake"} | changes))


def test_token_expiration_is_written_for_keystone(tmp_path: Path) -> None:
    config = write_config(tmp_path, args(token_expiration=900), "memory://")
    assert load(config, "keystone").token.expiration == 900
    assert load(config, "keystone").key_repository == tmp_path / "data" / "fernet-keys"


def test_without_it_keystones_default_stays(tmp_path: Path) -> None:
    config = write_config(tmp_path, args(), "memory://")
    assert load(config, "keystone").token.expiration == 3600
