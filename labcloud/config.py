"""Settings: where the cloud's broker, databases, files and ports are. Read once, passed in.

Nothing reads the environment at import time; ``Settings.from_env()`` is called by the CLI
and by whoever builds a cloud, never by a service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Everything a cloud needs to know about its surroundings.

    ``database_url`` is a template with ``{project}`` (one database per OpenStack project, as
    OpenStack has); ``None`` gives each project a SQLite file in ``state_dir``.
    """

    transport_url: str = "memory://"
    database_url: str | None = None
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)  # service -> port; 0 = any free
    token_expiry: int = 3600  # seconds, keystone's default
    password_hash_rounds: int = 12  # bcrypt's cost, keystone's default; tests may ask for 4
    token_cache_time: float = 300.0  # seconds services remember a validation; 0: ask each time
    region: str = "RegionOne"
    report_interval: float = 10.0  # seconds between nova-compute reports (nova's default)
    service_down_time: float = 60.0  # a host silent this long is down (nova's default)
    rpc_response_timeout: float = 60.0  # s a call waits for its reply (oslo.messaging's)
    build_timeout: float = 600.0  # a build that has not moved this long ends in ERROR; 0: off
    vif_plugging_timeout: float = 300.0  # nova: s a build waits for network-vif-plugged; 0: no
    vif_plugging_is_fatal: bool = True  # nova: a build whose ports never came up fails
    # neutron: s it holds after sending events to nova, gathering the next ones (neutron's
    # default is 2; less here, where an agent reports a port up within a poll, so a boot
    # whose event comes during a hold is not held up long)
    send_events_interval: float = 0.2

    def database_url_for(self, project: str) -> str:
        if self.database_url:
            return self.database_url.format(project=project)
        if self.state_dir is None:
            raise ValueError("Settings need a state_dir or a database_url")
        return f"sqlite:///{self.state_dir / f'{project}.sqlite'}"

    def port_for(self, service: str) -> int:
        return int(self.ports.get(service, 0))

    def but(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``LABCLOUD_*`` variables (transport URL, database URL, state dir)."""
        env = os.environ if env is None else env
        state = env.get("LABCLOUD_STATE_DIR")
        return cls(
            transport_url=env.get("LABCLOUD_TRANSPORT_URL", "memory://"),
            database_url=env.get("LABCLOUD_DATABASE_URL") or None,
            state_dir=Path(state) if state else None,
            host=env.get("LABCLOUD_HOST", "127.0.0.1"),
        )
