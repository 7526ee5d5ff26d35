"""The lab's "internet": a namespace ``lc-<tag>-internet`` plugged into the fabric's provider
network (bridge ``physnet1``, where a flat external network's bridges meet), holding the
external subnet's gateway address (the upstream router a cloud's routers send their
default route to) and a far address on its loopback (a host "out there", reached only
through that route). Its web server says who is asking (``/cgi-bin/whoami``): what a
router's NAT turned the asker's address into.

    internet = Internet(fabric, "203.0.113.1/24", state_dir / "internet").start()
    whoami_from(guest_ns, internet.far)   # the router's gateway IP (SNAT)
    internet.pings(floating_ip)           # True once the L3 agent applied the floating IP
    internet.stop()
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from labcloud.netns import links, procs
from labcloud.netns.fabric import PHYSNET, Fabric

FAR = "198.51.100.1"  # TEST-NET-2: an address "out there", never a real one
# busybox httpd hands a CGI the asker as REMOTE_ADDR, "[::ffff:a.b.c.d]" on its dual stack
WHOAMI = """#!/bin/sh
echo "Content-Type: text/plain"
echo
a=${REMOTE_ADDR#[}; a=${a%]}; echo "${a#::ffff:}"
"""


def serve_whoami(ns: str, home: Path, port: int = 80) -> subprocess.Popen[bytes]:
    """A web server in ``ns`` answering ``/cgi-bin/whoami`` with the asker's address."""
    script = home / "cgi-bin" / "whoami"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(WHOAMI)
    script.chmod(0o755)
    return procs.start(ns, ["busybox", "httpd", "-f", "-p", str(port), "-h", str(home)])


def whoami_from(ns: str, address: str, port: int = 80) -> str:
    """Ask the whoami server at ``address`` from namespace ``ns``: the source it saw."""
    url = f"http://{address}:{port}/cgi-bin/whoami"
    return procs.run(ns, ["curl", "-s", "-m", "2", url]).stdout.strip()


class Internet:
    def __init__(self, fabric: Fabric, gateway: str, home: Path, far: str = FAR) -> None:
        """``gateway``: the external subnet's gateway with its prefix (``203.0.113.1/24``)."""
        self.fabric = fabric
        self.ns = fabric.ns("internet")
        self.gateway = gateway
        self.far = far
        self.home = home
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> Internet:
        links.ensure_namespace(self.fabric.switch)
        links.ensure_namespace(self.ns)
        with links.iproute(self.fabric.switch) as ipr:
            links.ensure_bridge(ipr, PHYSNET)
            links.add_veth(ipr, "world0", "eth0", self.ns)
            links.set_up(ipr, "world0", master=PHYSNET)
        with links.iproute(self.ns) as ipr:
            links.set_up(ipr, "eth0")
            links.add_address(ipr, "eth0", self.gateway)
            links.add_address(ipr, "lo", f"{self.far}/32")
        self._server = serve_whoami(self.ns, self.home)
        return self

    def pings(self, address: str) -> bool:
        """Does ``address`` (a floating IP) answer ping from the internet?"""
        argv = ["ping", "-c", "1", "-W", "1", address]
        return procs.run(self.ns, argv).returncode == 0

    def stop(self) -> None:
        """Stop its server and delete it (its veth into the fabric goes along); safe to repeat."""
        if self._server is not None:
            procs.stop(self._server)
            self._server = None
        procs.kill_all(self.ns)
        links.delete_namespace(self.ns)
