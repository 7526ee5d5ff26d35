"""``labcloud deploy units``: a systemd unit per binary, as distributions ship
``nova-compute.service``: ``Type=notify`` (labcloud run says READY=1 once it serves),
``Restart=on-failure``, after RabbitMQ and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

from labcloud.binaries import BINARIES

UNIT = """\
[Unit]
Description=labcloud {title}
After=network-online.target rabbitmq-server.service postgresql.service{after}
Wants=network-online.target
PartOf=labcloud.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={python} -m labcloud.cli run {binary} --config {config}{host}
Restart=on-failure
RestartSec=2
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=labcloud.target
"""

TARGET = """\
[Unit]
Description=labcloud: every service of this machine
Wants={units}

[Install]
WantedBy=multi-user.target
"""


def unit(binary: str, config: Path, host: str | None = None) -> str:
    return UNIT.format(
        title=binary + (f" on {host}" if host else ""),
        after="" if binary == "keystone" else " labcloud-keystone.service",
        python=sys.executable,
        binary=binary,
        config=config,
        host=f" --host {host}" if host else "",
    )


def write_units(config: Path, output: Path, *, hosts: str = "compute1") -> list[Path]:
    """One ``labcloud-<binary>[@host].service`` per binary (nova-compute and the L2 agent
    per host), and ``labcloud.target`` that starts them all."""
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for info in BINARIES.values():
        on: list[str | None] = [None]
        if info.per_host:
            on = [h for h in hosts.split(",") if h]
        for host in on:
            name = f"labcloud-{info.name}" + (f"-{host}" if host else "") + ".service"
            path = output / name
            path.write_text(unit(info.name, config.resolve(), host))
            written.append(path)
    target = output / "labcloud.target"
    target.write_text(TARGET.format(units=" ".join(p.name for p in written)))
    return [*written, target]
