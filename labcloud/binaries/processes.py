"""``labcloud up --processes``, ``status`` and ``down`` for a cloud of one process per binary.

``up`` writes ``<state>/labcloud.conf`` (the transport, a database per project, each service
user's password, DevStack's ports when free), syncs every database, bootstraps keystone and
the demo's content, starts the supervisor in the background and waits until every API
answers and every nova-compute is up.

``--datapath`` says what neutron's agents build (``[linux_bridge]`` in the file): ``noop`` by
default, as ``labcloud run`` and the systemd units have it; ``linuxbridge`` (root) gives the
cloud a fabric tag of its own, whose namespaces ``lc-<tag>-...`` the supervisor wires before
the agents start and removes when it stops (``down`` removes what a killed one left).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from labcloud.binaries import fabric
from labcloud.binaries.supervisor import read_status
from labcloud.conf import PROJECTS, load, sample
from labcloud.pids import alive
from labcloud.private import read_json

PAUSE = threading.Event()  # never set: .wait(t) paces polls of other processes
CONFIG = "labcloud.conf"


def _port(wanted: int) -> int:
    """``wanted`` when free (a port in TIME_WAIT after a down is), else any free one."""
    for port in (wanted, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")


def database_template(url: str) -> str:
    """A URL template with ``{project}``: ``postgresql://h/labcloud`` gives one database per
    project (``labcloud_nova`` ...), with psycopg 3 as the driver."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if "{project}" in url:
        return url
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_{{project}}" if name else f"{url.rstrip('/')}/{{project}}"


def _passwords(state: Path) -> dict[str, str]:
    """Each service user's password: made once per state directory, kept (a database kept
    across ``up``s holds their hashes)."""
    path = state / "passwords.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        made = {p: secrets.token_urlsafe(18) for p in PROJECTS if p != "keystone"}
        path.write_text(json.dumps(made))
        path.chmod(0o600)
        return made


def _token_section(args: Any) -> dict[str, dict[str, str]]:
    """keystone's [token] expiration when ``up --token-expiration`` gives one."""
    seconds = getattr(args, "token_expiration", 0)
    return {"token": {"expiration": str(seconds)}} if seconds else {}


def write_config(state: Path, args: Any, transport_url: str) -> Path:
    data = state / "data"
    ports = {info.api: _port(info.port) for info in PROJECTS.values()}
    keystone = f"http://127.0.0.1:{ports['keystone']}"
    text = sample(
        transport_url=transport_url,
        database_url=database_template(args.database_url) if args.database_url else None,
        state_path=data,
        passwords=_passwords(state),
        ports=ports,
        extra={
            "DEFAULT": {
                "report_interval": str(args.report_interval),
                "service_down_time": str(args.service_down_time),
                "instance_build_timeout": str(getattr(args, "build_timeout", 600.0)),
                "vif_plugging_timeout": str(getattr(args, "vif_plugging_timeout", 300.0)),
                "compute_driver": args.driver,
            },
            "keystone_authtoken": {"www_authenticate_uri": keystone, "auth_url": keystone},
            "linux_bridge": fabric.conf_section(getattr(args, "datapath_chosen", "noop")),
            **_token_section(args),
        },
    )
    path = state / CONFIG
    path.write_text(text)
    path.chmod(0o600)
    return path


def up(args: Any, transport_url: str) -> int:
    state = Path(args.state_dir)
    status = read_status(state)
    if status and alive(int(status["supervisor"])):
        print(f"labcloud is already running (supervisor pid {status['supervisor']}).")
        return 1
    args.datapath_chosen = fabric.choose(getattr(args, "datapath", "noop"))
    if args.datapath_chosen is None:
        return 2
    if not args.database_url:  # SQLite files: every `up` starts a new cloud
        shutil.rmtree(state / "data", ignore_errors=True)
    (state / "data").mkdir(parents=True, exist_ok=True)
    config = write_config(state, args, transport_url)
    print(f"==> {config}")
    # the supervisor starts now, so that its zygote imports the binaries' code while the
    # databases are synced; it forks them once `bootstrapped` exists
    gate = state / "bootstrapped"
    gate.unlink(missing_ok=True)
    proc = _supervisor(state, config, args.hosts, gate)
    try:
        if not _sync_and_bootstrap(config, args.hosts):
            raise SystemExit(1)
        gate.touch()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    print(f"==> supervisor pid {proc.pid}; logs in {state / 'logs'}")
    if not _wait_ready(config, proc, args.hosts, args.timeout):
        print(f"labcloud did not come up within {args.timeout} s; see {state / 'logs'}")
        return 1
    print("==> labcloud is up, one process per binary:")
    code = status_of(state)
    _client_files(state, config, args.hosts)
    return code


def _client_files(state: Path, config: Path, hosts: int) -> None:
    """clouds.yaml and openrc in the state directory, and the entries merged into the
    user's clouds.yaml as plain ``up`` does (``down`` takes them out)."""
    from labcloud import clientfiles
    from labcloud.binaries.bootstrap import credentials_file, endpoint
    from labcloud.spec import CloudSpec

    auth_url = endpoint(load(config, "keystone"))
    passwords = read_json(credentials_file(config)) or {}
    clouds = clientfiles.entries(auth_url, passwords, CloudSpec.demo(hosts=hosts).region)
    yaml_path, _ = clientfiles.write_state_files(state, clouds)
    try:
        merged = clientfiles.merge(state, clouds)
    except (OSError, ValueError) as exc:
        print(f"(your clouds.yaml was left alone: {exc}; use OS_CLIENT_CONFIG_FILE={yaml_path})")
        return
    print(f"==> {', '.join(clouds)} in {merged}: openstack --os-cloud labcloud server list")


def _supervisor(state: Path, config: Path, hosts: int, gate: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "labcloud.cli", "--state-dir", str(state), "supervise"]
    cmd += ["--config", str(config), "--hosts", str(hosts), "--start-when", str(gate)]
    with (state / "supervisor.log").open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _sync_and_bootstrap(config: Path, hosts: int) -> bool:
    # imported here: the supervisor and its zygote start while this process imports them
    from labcloud.binaries import dbsync
    from labcloud.binaries.bootstrap import bootstrap
    from labcloud.spec import CloudSpec

    for project in PROJECTS:
        try:
            before, after = dbsync.sync(project, load(config, project).database_url)
        except dbsync.DatabaseRefused as exc:
            print(f"labcloud db sync {project}: {exc}", file=sys.stderr)
            return False
        print(f"==> db sync {project}: {before or 'empty'} -> {after}")
    made = bootstrap(config, CloudSpec.demo(hosts=hosts))
    print(
        "==> bootstrapped keystone, glance, neutron, nova" if made else "==> already bootstrapped"
    )
    return True


def _wait_ready(config: Path, proc: subprocess.Popen[bytes], hosts: int, timeout: float) -> bool:
    from labcloud.binaries.bootstrap import endpoint

    urls = [endpoint(load(config, p)).split("/$")[0] for p in PROJECTS]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"the supervisor exited with {proc.returncode}")
            return False
        if all(answers(u) for u in urls) and computes_up(config) >= hosts:
            return True
        PAUSE.wait(0.3)
    return False


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def computes_up(config: Path, user: str = "admin", password: str | None = None) -> int:
    """How many nova-compute services nova-api says are up (GET /os-services, as the
    demo's admin, with the password bootstrap made: ``openstack compute service list``)."""
    from labcloud.binaries.bootstrap import credentials_file, endpoint

    password = password or str(read_json(credentials_file(config)).get(user, ""))
    nova = load(config, "nova")
    auth = nova.keystone_authtoken
    account = {"name": user, "domain": {"id": "default"}, "password": password}
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": account}},
            "scope": {"project": {"name": user, "domain": {"id": "default"}}},
        }
    }
    try:
        token = httpx.post(f"{auth.auth_url}/v3/auth/tokens?nocatalog", json=body, timeout=5)
        answer = httpx.get(
            endpoint(nova) + "/os-services",
            headers={"X-Auth-Token": token.headers.get("X-Subject-Token", "")},
            timeout=5,
        )
        services = answer.json().get("services", []) if answer.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        return 0
    return sum(1 for s in services if s["binary"] == "nova-compute" and s["state"] == "up")


def status_of(state: Path) -> int:
    """Print every process of the cloud; 0 if all run and every API answers."""
    from labcloud.binaries.bootstrap import endpoint

    status = read_status(state)
    if not status or not alive(int(status["supervisor"])):
        print("labcloud (processes) is not running.")
        return 3
    ok = True
    print(f"supervisor pid {status['supervisor']}, config {status['config']}")
    print(f"datapath {fabric.describe(Path(status['config']))}")
    width = max(map(len, status["programs"]), default=0) + 2  # the longest name and a gap
    for name, p in status["programs"].items():
        running = p["pid"] is not None and alive(int(p["pid"]))
        ok &= running
        restarts = (
            f", restarted {p['restarts']}x (last exit {p['last_exit']})" if p["restarts"] else ""
        )
        what = f"pid {p['pid']}, {p['state']}" if running else "DOWN, restarting"
        print(f"    {name:{width}} {what}{restarts}")
    for project in PROJECTS:
        url = endpoint(load(status["config"], project)).split("/$")[0]
        answering = answers(url)
        ok &= answering
        verdict = "answers" if answering else "DOES NOT ANSWER"
        print(f"    {PROJECTS[project].api:14} {url:34} {verdict}")
    return 0 if ok else 1


def down(state: Path, timeout: float = 60.0) -> int:
    """SIGTERM the supervisor (which stops every binary), and make sure nothing is left;
    the clouds.yaml entries ``up`` merged are taken out."""
    from labcloud import clientfiles

    gone = clientfiles.remove(state)
    if gone:
        print(f"removed {', '.join(gone)} from {clientfiles.user_clouds_yaml()}")
    status = read_status(state)
    if not status:
        return 0
    supervisor = int(status["supervisor"])
    pids = [int(p["pid"]) for p in status["programs"].values() if p["pid"]]
    pids += [int(status["zygote"])] if status.get("zygote") else []
    if alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(supervisor) and time.monotonic() < deadline:
        PAUSE.wait(0.1)
    for pid in [supervisor, *pids]:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    gone = fabric.remove_left(Path(status["config"]))  # the supervisor removed them unless killed
    if gone:
        print(f"removed {len(gone)} network namespaces the supervisor left: {', '.join(gone)}")
    (state / "processes.json").unlink(missing_ok=True)
    print(f"labcloud (supervisor {supervisor} and {len(pids)} processes) stopped.")
    return 0
