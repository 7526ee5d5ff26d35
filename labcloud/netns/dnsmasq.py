"""One dnsmasq per network, as neutron's DHCP agent runs it (neutron/agent/linux/dhcp.py):
static reservations only (``--dhcp-range=...,static``: an unknown MAC gets nothing), the
MAC → IP table in a hosts file re-read on SIGHUP, leases in a file the lab can read.

Files live in ``<conf_dir>/<network id>/``: ``host`` (``mac,name,ip`` lines), ``opts``
(router and DNS options per subnet), ``leases``, ``pid`` and ``log``.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labcloud.netns import procs
from labcloud.netns.links import DatapathError

LEASE_TIME = 86400  # seconds, neutron's dhcp_lease_duration
START_DEADLINE = 10.0  # s for dnsmasq to write its pid file


def _holds_pid(pid_file: Path, pid: int) -> bool:
    try:
        return pid_file.read_text().strip() == str(pid)
    except FileNotFoundError:
        return False


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole at once (a new file renamed over it, as neutron's
    replace_file): dnsmasq may still be reading it for the previous SIGHUP, and a file
    rewritten in place would show it a reservation missing (a NAK to a guest mid-lease)."""
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    os.replace(new, path)


@dataclass(frozen=True)
class Lease:
    expiry: int
    mac: str
    ip: str
    hostname: str


def host_name(ip: str) -> str:
    """neutron's name for a port's address: ``host-10-0-0-5``."""
    return "host-" + ip.replace(".", "-").replace(":", "-")


class Dnsmasq:
    def __init__(self, network_id: str, ns: str, interface: str, conf_dir: Path) -> None:
        self.network_id = network_id
        self.ns = ns
        self.interface = interface
        self.dir = conf_dir / network_id
        self._proc: subprocess.Popen[bytes] | None = None
        self._subnets: list[dict[str, Any]] = []

    @property
    def hosts_file(self) -> Path:
        return self.dir / "host"

    @property
    def leases_file(self) -> Path:
        return self.dir / "leases"

    def write(self, subnets: list[dict[str, Any]], ports: list[dict[str, Any]]) -> None:
        """The reservations: every port's MAC with its address on a DHCP subnet."""
        self.dir.mkdir(parents=True, exist_ok=True)
        dhcp = {s["id"] for s in subnets if s.get("enable_dhcp")}
        lines = [
            f"{p['mac_address']},{host_name(ip['ip_address'])},{ip['ip_address']}"
            for p in ports
            for ip in p["fixed_ips"]
            if ip["subnet_id"] in dhcp
        ]
        _replace(self.hosts_file, "".join(line + "\n" for line in sorted(lines)))
        opts = []
        for s in subnets:
            if s["id"] in dhcp and s.get("gateway_ip"):
                opts.append(f"tag:subnet-{s['id']},option:router,{s['gateway_ip']}")
        _replace(self.dir / "opts", "".join(o + "\n" for o in opts))
        self._subnets = [s for s in subnets if s["id"] in dhcp]

    def argv(self) -> list[str]:
        binary = shutil.which("dnsmasq")
        if binary is None:
            raise DatapathError(reason="dnsmasq is not installed (Debian: dnsmasq-base)")
        args = [
            binary,
            "--keep-in-foreground",
            "--no-hosts",
            "--no-resolv",
            "--port=0",  # DHCP only: labcloud's instances need no DNS
            "--conf-file=/dev/null",
            "--user=root",
            f"--pid-file={self.dir / 'pid'}",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-optsfile={self.dir / 'opts'}",
            f"--dhcp-leasefile={self.leases_file}",
            f"--interface={self.interface}",
            "--bind-interfaces",
            "--dhcp-authoritative",
            "--log-dhcp",
            "--log-facility=-",
        ]
        for s in self._subnets:
            net = ipaddress.ip_network(s["cidr"])
            if net.version == 4:
                args.append(
                    f"--dhcp-range=set:subnet-{s['id']},{net.network_address},static,"
                    f"{net.netmask},{LEASE_TIME}s"
                )
        return args

    def start(self) -> None:
        """Start dnsmasq in the namespace (again, if it died); safe to repeat.

        Returns once dnsmasq has written its pid file: it sets its signal handlers before
        that, and a SIGHUP sent earlier (the next port's reload) would kill it."""
        if self.running:
            return
        pid_file = self.dir / "pid"
        pid_file.unlink(missing_ok=True)
        proc = self._proc = procs.start(self.ns, self.argv(), log=self.dir / "log")
        deadline = time.monotonic() + START_DEADLINE
        while not _holds_pid(pid_file, proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DatapathError(
                    reason=f"dnsmasq for network {self.network_id} did not start: "
                    + self.log()[-500:]
                )
            time.sleep(0.01)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def reload(self) -> None:
        """SIGHUP: dnsmasq reads the hosts and opts files again (neutron's reload_allocations)."""
        if self._proc is not None and self.running:
            self._proc.send_signal(signal.SIGHUP)
        else:
            self.start()

    def stop(self) -> None:
        if self._proc is not None:
            procs.stop(self._proc)
            self._proc = None

    def leases(self) -> list[Lease]:
        """The leases dnsmasq handed out: ``expiry mac ip hostname client-id`` lines."""
        try:
            text = self.leases_file.read_text()
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 4:
                found.append(Lease(int(parts[0]), parts[1], parts[2], parts[3]))
        return found

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
