"""A ``labcloud up --processes`` cloud for fault tests: started, driven through its REST APIs,
stopped (``down``) also when the test fails.

What a fault test checks afterwards is one invariant (``settle`` then ``leaks``): no
instance stays in BUILD, each ERROR carries a fault, and no port (so no IP address) is held
by anything but an ACTIVE instance or neutron's own devices.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PAUSE = threading.Event()  # never set: .wait(t) paces polls of other processes
NEUTRONS_OWN = ("network:",)  # dhcp, router interfaces and gateways: not an instance's


def labcloud(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labcloud.cli", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Boots:
    """What a storm of POST /servers got back: the statuses, and the servers made."""

    statuses: Counter[int]
    server_ids: list[str]


class ProcessCloud:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.status: dict[str, Any] = json.loads((state / "processes.json").read_text())
        self._tokens: dict[str, str] = {}

    # -- addresses and tokens ------------------------------------------------------------
    def url(self, project: str) -> str:
        from labcloud.conf import load

        host, port = load(self.state / "labcloud.conf", project).bind
        return f"http://{host}:{port}"

    def pid(self, program: str) -> int:
        programs = json.loads((self.state / "processes.json").read_text())["programs"]
        return int(programs[program]["pid"])

    def program(self, name: str) -> dict[str, Any]:
        return dict(json.loads((self.state / "processes.json").read_text())["programs"][name])

    def login(self, user: str = "demo") -> httpx.Response:
        password = json.loads((self.state / "credentials.json").read_text())[user]
        account = {"name": user, "domain": {"id": "default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": account}},
                "scope": {"project": {"name": user, "domain": {"id": "default"}}},
            }
        }
        return httpx.post(f"{self.url('keystone')}/v3/auth/tokens", json=body, timeout=30)

    def token(self, user: str = "demo") -> str:
        if user not in self._tokens:
            answer = self.login(user)
            assert answer.status_code == 201, answer.text
            self._tokens[user] = answer.headers["X-Subject-Token"]
        return self._tokens[user]

    def get(self, project: str, path: str, user: str = "demo", **params: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token(user)}
        return httpx.get(f"{self.url(project)}{path}", headers=headers, params=params, timeout=30)

    # -- servers ---------------------------------------------------------------------------
    def image_id(self) -> str:
        images = self.get("glance", "/v2/images", name="cirros").json()["images"]
        return str(images[0]["id"])

    def boot(self, name: str) -> httpx.Response:
        body = {"server": {"name": name, "flavorRef": "1", "imageRef": self.image_id()}}
        headers = {"X-Auth-Token": self.token()}
        return httpx.post(
            f"{self.url('nova')}/v2.1/servers", json=body, headers=headers, timeout=120
        )

    def boot_many(self, n: int, prefix: str, *, during: Any, after: int) -> Boots:
        """``n`` POST /servers from 20 threads; ``during()`` runs once ``after`` of them
        have been accepted (the builds are under way), while the others are still sent."""
        accepted = threading.Condition()
        done: list[httpx.Response] = []

        def one(i: int) -> httpx.Response:
            answer = self.boot(f"{prefix}-{i}")
            with accepted:
                done.append(answer)
                accepted.notify_all()
            return answer

        self.image_id()  # the token and the image before the storm
        with ThreadPoolExecutor(max_workers=20) as pool:
            futures = [pool.submit(one, i) for i in range(n)]
            with accepted:
                assert accepted.wait_for(lambda: len(done) >= after, timeout=300), done[-1:]
            during()
            answers = [f.result() for f in futures]
        ids = [a.json()["server"]["id"] for a in answers if a.status_code == 202]
        return Boots(Counter(a.status_code for a in answers), ids)

    def servers(self) -> list[dict[str, Any]]:
        answer = self.get("nova", "/v2.1/servers/detail", user="admin", all_tenants="1")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["servers"])

    def settle(self, timeout: float) -> tuple[list[dict[str, Any]], float]:
        """Wait until no server is in BUILD; the servers then, and how long it took."""
        start = time.monotonic()
        while True:
            servers = self.servers()
            building = [s["id"] for s in servers if s["status"] == "BUILD"]
            if not building:
                return servers, time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"{len(building)} servers still in BUILD: {building[:5]}")
            PAUSE.wait(1.0)

    def wait_active(self, server_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            server = self.get("nova", f"/v2.1/servers/{server_id}").json()["server"]
            if server["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
                return dict(server)
            PAUSE.wait(0.3)

    def computes_up(self) -> set[str]:
        answer = self.get("nova", "/v2.1/os-services", user="admin")
        if answer.status_code != 200:
            return set()
        return {
            s["host"]
            for s in answer.json()["services"]
            if s["binary"] == "nova-compute" and s["state"] == "up"
        }

    def wait_computes_up(self, hosts: int, timeout: float = 120) -> float:
        start = time.monotonic()
        while len(self.computes_up()) < hosts:
            assert time.monotonic() - start < timeout, f"computes up: {self.computes_up()}"
            PAUSE.wait(0.3)
        return time.monotonic() - start

    # -- the invariant ---------------------------------------------------------------------
    def leaks(self, servers: list[dict[str, Any]]) -> dict[str, Any]:
        """Ports (and addresses) held by anything but an ACTIVE server or neutron itself,
        ACTIVE servers without exactly one port, ERROR servers without a fault."""
        active = {s["id"] for s in servers if s["status"] == "ACTIVE"}
        answer = self.get("neutron", "/v2.0/ports", user="admin")
        assert answer.status_code == 200, answer.text
        ports = [
            p for p in answer.json()["ports"] if not p["device_owner"].startswith(NEUTRONS_OWN)
        ]
        held = Counter(p["device_id"] for p in ports)
        return {
            "ports_not_of_an_active_server": [
                (p["id"], p["device_id"], [ip["ip_address"] for ip in p["fixed_ips"]])
                for p in ports
                if p["device_id"] not in active
            ],
            "active_without_one_port": [s for s in active if held[s] != 1],
            "error_without_fault": [
                s["id"] for s in servers if s["status"] == "ERROR" and not s.get("fault")
            ],
            "addresses_held": sum(len(p["fixed_ips"]) for p in ports),
        }


@contextlib.contextmanager
def up(state: Path, *args: str) -> Iterator[ProcessCloud]:
    """``labcloud up --processes ARGS``, and ``down`` after, whatever happened."""
    try:
        started = labcloud(state, "up", "--processes", *args, timeout=400)
        assert started.returncode == 0, started.stdout + started.stderr
        yield ProcessCloud(state)
    finally:
        labcloud(state, "down", timeout=120)
