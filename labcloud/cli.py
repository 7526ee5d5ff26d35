"""``labcloud``: start, inspect and stop a cloud from the shell.

    labcloud up          start a cloud in the background, write clouds.yaml and an openrc
                         (and merge its entries into ~/.config/openstack/clouds.yaml)
    labcloud status      is it running, and does every API answer?
    labcloud down        stop it (and take its entries out of that clouds.yaml)
    labcloud token       keystone's Fernet keys: setup, rotate, list

The cloud runs as one background process (``labcloud serve``) on 127.0.0.1, on DevStack's
ports when free (keystone 5000, nova 8774, glance 9292, neutron 9696, cinder 8776).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from labcloud.pids import DAEMONS_DIR, alive, stop_recorded, terminate
from labcloud.private import read_json, write_private

STATE_DIR = Path(os.environ.get("LABCLOUD_STATE_DIR", Path.home() / ".labcloud"))
DEVSTACK_PORTS = {
    "keystone": 5000,
    "nova-api": 8774,
    "glance-api": 9292,
    "neutron-server": 9696,
    "cinder-api": 8776,
}


def _info_file(state: Path) -> Path:
    return state / "cloud.json"


def _read_info(state: Path) -> dict[str, Any] | None:
    return read_json(_info_file(state)) or None


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a port
        try:  # in TIME_WAIT after `down` is free, so `up` gets the same ports again
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cloud_transport(url: str, state: Path, management_url: str | None) -> str | None:
    """The cloud's own transport URL (its own RabbitMQ vhost), or None, having said why not."""
    if url.startswith("memory"):
        return url
    from labcloud.messaging.exceptions import MessagingError
    from labcloud.messaging.vhost import cloud_transport_url

    try:
        return cloud_transport_url(url, str(state.resolve()), management_url=management_url)
    except MessagingError as exc:
        print(f"labcloud cannot use {url}: {exc}", file=sys.stderr)
        return None


def serve(args: argparse.Namespace) -> int:
    """Run a cloud in the foreground until SIGTERM/SIGINT (what ``up`` starts)."""
    from labcloud.cloud import LabCloud
    from labcloud.config import Settings
    from labcloud.spec import CloudSpec

    state = Path(args.state_dir)
    transport_url = _cloud_transport(args.transport_url, state, args.management_url)
    if transport_url is None:
        return 1
    args.transport_url = transport_url
    ports = {name: port for name, port in DEVSTACK_PORTS.items() if _port_free(port)}
    database_url = _database_template(args.database_url)
    if database_url and not _databases_ready(database_url, fresh=True):
        return 1
    settings = Settings(
        transport_url=args.transport_url,
        state_dir=state / "data",
        database_url=database_url,
        ports=ports,
    )
    shutil.rmtree(state / "data", ignore_errors=True)  # every `up` starts a new cloud
    (state / "data").mkdir(parents=True, exist_ok=True)
    spec = CloudSpec.demo(hosts=args.hosts)
    if args.token_expiration:
        spec = spec.but(token_expiration=args.token_expiration)
    stop = {"now": False}

    def handler(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if args.debug_port:
        import debugpy

        # before any service thread starts, so that every one of them is traced
        debugpy.listen(("127.0.0.1", args.debug_port))
    shared = not args.transport_url.startswith("memory")
    with LabCloud(spec, settings, compute_driver=args.driver, share_trace=shared) as cloud:
        info = {
            "pid": os.getpid(),
            "urls": cloud.urls,
            "transport_url": args.transport_url,
            "started": time.time(),
        }
        passwords = {u.name: cloud.credentials(u.name)["password"] for u in spec.users}
        write_private(_credentials_file(state), json.dumps(passwords, indent=2))
        write_private(_info_file(state), json.dumps(info, indent=2))
        while not stop["now"]:
            signal.pause()
    _info_file(state).unlink(missing_ok=True)
    return 0


def _credentials_file(state: Path) -> Path:
    return state / "credentials.json"


def _database_template(url: str | None) -> str | None:
    if not url:
        return None
    from labcloud.binaries.processes import database_template

    return database_template(url)


def _databases_ready(template: str, *, fresh: bool = False) -> bool:
    """Create each project's PostgreSQL database when missing (``fresh``: and empty it, as
    every `up` starts a new cloud); False, having said why, when the server refuses."""
    from labcloud.binaries.dbsync import DatabaseRefused, ensure_database

    for project in ("keystone", "nova", "glance", "neutron", "cinder"):
        url = template.format(project=project)
        try:
            ensure_database(url)
            if fresh:
                _empty(url)
        except DatabaseRefused as exc:
            print(f"labcloud cannot use the {project} database: {exc}", file=sys.stderr)
            return False
        except Exception as exc:  # a bad URL, a missing driver, a server not there
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"labcloud cannot use the {project} database: {reason}", file=sys.stderr)
            return False
    return True


def _empty(url: str) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    try:
        found = MetaData()
        found.reflect(engine)
        found.drop_all(engine)
    finally:
        engine.dispose()


def _write_client_files(state: Path, urls: dict[str, str]) -> tuple[Path, Path, Path | None]:
    """clouds.yaml and openrc in the state directory, and the entries merged into the
    user's clouds.yaml (None, having said why, if that file could not be changed)."""
    from labcloud import clientfiles

    passwords = read_json(_credentials_file(state))
    clouds = clientfiles.entries(urls["identity"] + "/v3", passwords, "RegionOne")
    yaml_path, openrc = clientfiles.write_state_files(state, clouds)
    try:
        merged: Path | None = clientfiles.merge(state, clouds)
    except (OSError, ValueError) as exc:
        print(f"(your clouds.yaml was left alone: {exc})", file=sys.stderr)
        merged = None
    return yaml_path, openrc, merged


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def up(args: argparse.Namespace) -> int:
    import subprocess

    state = Path(args.state_dir)
    info = _read_info(state)
    if info and alive(int(info["pid"])):
        print(f"labcloud is already running (pid {info['pid']}); `labcloud down` stops it.")
        return 1
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    state.chmod(0o700)  # passwords, keys and databases: the owner's only
    _info_file(state).unlink(missing_ok=True)
    transport_url = _cloud_transport(args.transport_url, state, args.management_url)
    if transport_url is None:
        return 1
    template = _database_template(args.database_url)
    if template and not _databases_ready(template):
        return 1
    log = state / "labcloud.log"
    cmd = [
        sys.executable,
        "-m",
        "labcloud.cli",
        "--state-dir",
        str(state),
        "serve",
        "--transport-url",
        transport_url,
        "--hosts",
        str(args.hosts),
        "--driver",
        args.driver,
    ] + (["--database-url", args.database_url] if args.database_url else [])
    cmd += ["--debug-port", str(args.debug_port)] if args.debug_port else []
    cmd += ["--token-expiration", str(args.token_expiration)] if args.token_expiration else []
    print(f"==> starting labcloud in the background (log: {log})")
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        info = _read_info(state)
        if proc.poll() is not None:
            print(f"labcloud exited with code {proc.returncode}; the end of its log:")
            print("".join(log.read_text().splitlines(keepends=True)[-20:]))
            return 1
        if info and all(_answers(u) for u in info["urls"].values()):
            break
        time.sleep(0.2)  # polling a child process we just started: nothing to wait on
    else:
        print(f"labcloud did not answer within {args.timeout} s; see {log}")
        return 1
    clouds, openrc, merged = _write_client_files(state, info["urls"])
    print("==> labcloud is up:")
    for kind, url in info["urls"].items():
        print(f"    {kind:9} {url}")
    passwords = read_json(_credentials_file(state))
    print("\nIts users' passwords, made for this cloud (kept 0600 in the state directory):")
    for user, password in passwords.items():
        print(f"    {user:9} {password}")
    where = (
        f"(its entries are in {merged})"
        if merged
        else f"after: export OS_CLIENT_CONFIG_FILE={clouds}"
    )
    print(
        f"\nUse it with the openstack CLI {where}:\n"
        f"    openstack --os-cloud labcloud server list\n"
        f"    openstack --os-cloud labcloud-admin user list\nor:\n    source {openrc}\n"
        "    openstack token issue\n\n`labcloud status` checks it; `labcloud down` stops it."
    )
    if args.debug_port:
        print(
            f"A debugger can attach on 127.0.0.1:{args.debug_port} (debugpy: VS Code's "
            "'Python: Attach', or any DAP client)."
        )
    if not transport_url.startswith("memory"):
        print(
            f"Its RPC, trace and stepper are on {transport_url}: "
            "`labcloud debug` lists paused services; RemoteCloud(that URL) watches it."
        )
    return 0


def status(args: argparse.Namespace) -> int:
    info = _read_info(Path(args.state_dir))
    if not info or not alive(int(info["pid"])):
        print("labcloud is not running (`labcloud up` starts it).")
        return 3
    print(f"labcloud is running (pid {info['pid']}, transport {info['transport_url']}):")
    ok = True
    for kind, url in info["urls"].items():
        answers = _answers(url)
        ok &= answers
        print(f"    {kind:9} {url:28} {'answers' if answers else 'DOES NOT ANSWER'}")
    return 0 if ok else 1


def debug(args: argparse.Namespace) -> int:
    """List paused services, set breakpoints, continue: the stepper of a cloud elsewhere."""
    url = args.transport_url
    if url is None:
        info = _read_info(Path(args.state_dir))
        if not info or not alive(int(info["pid"])):
            print("labcloud is not running; give --transport-url to reach a cloud elsewhere.")
            return 3
        url = str(info["transport_url"])
    if url.startswith("memory"):
        print(
            "this cloud runs on memory://: only its own process can step it. Start it with\n"
            "    labcloud up --transport-url amqp://guest:guest@127.0.0.1:5672/"
        )
        return 2
    from labcloud.messaging.session import RemoteSession
    from labcloud.trace.stepper import parse_breakpoint

    with RemoteSession(url) as remote:
        stepper = remote.stepper
        if args.action == "break":
            stepper.break_on(**parse_breakpoint(" ".join(args.what)))
        elif args.action == "continue":
            stepper.resume(args.what[0] if args.what else None)
        elif args.action == "step":
            stepper.step()
        elif args.action == "run-to":
            stepper.run_to(step=int(args.what[0]))
        elif args.action == "clear":
            stepper.clear()
        if args.action != "list":
            stepper.report()
        try:
            stepper.wait_for_processes(1, timeout=args.timeout)
        except TimeoutError:
            print(f"no labcloud process answered on {url} within {args.timeout} s")
            return 1
        threading.Event().wait(0.3)  # answers from more processes may still be on the way
        for process, state in sorted(stepper.processes.items()):
            print(
                f"{process} on {state.host}: breakpoints: {', '.join(state.breakpoints) or 'none'}"
            )
            for p in state.paused:
                print(f"    paused {p['id']}: {p['service']} ({p['thread']}) at {p['breakpoint']}")
                print(f"        {p['what']}")
            if not state.paused:
                print("    nothing paused")
    return 0


def _forget_clouds_yaml(state: Path) -> None:
    from labcloud import clientfiles

    gone = clientfiles.remove(state)
    if gone:
        print(f"removed {', '.join(gone)} from {clientfiles.user_clouds_yaml()}")


def down(args: argparse.Namespace) -> int:
    state = Path(args.state_dir)
    _forget_clouds_yaml(state)
    info = _read_info(state)
    if not info or not alive(int(info["pid"])):
        print("labcloud is not running.")
    else:
        pid = int(info["pid"])
        terminate(pid, timeout=30)
        print(f"labcloud (pid {pid}) stopped.")
    _info_file(state).unlink(missing_ok=True)
    _stop_daemons(state)
    return 0


def _stop_daemons(state: Path) -> None:
    """The daemons the cloud started itself (libvirtd, virtlogd: ``serve`` with the libvirt
    driver, where none answered), by the pids it recorded; a libvirtd that was already
    running has no pid file there and keeps running."""
    # libvirtd.pid sorts before virtlogd.pid: libvirtd goes first, it logs through virtlogd
    for pid_file in sorted((state / "data" / DAEMONS_DIR).glob("*.pid")):
        pid = stop_recorded(pid_file)
        if pid is not None:
            print(f"{pid_file.stem} (pid {pid}), started by labcloud, stopped.")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--state-dir",
        default=str(STATE_DIR),
        help="where the cloud keeps its data, log, clouds.yaml and openrc "
        "(default: %(default)s, or $LABCLOUD_STATE_DIR)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("up", up, "start a cloud in the background"),
        ("serve", serve, "run a cloud in the foreground (what up starts)"),
    ):
        c = sub.add_parser(name, help=text, description=text)
        c.add_argument(
            "--transport-url",
            default="memory://",
            help="memory:// (in-process) or amqp://guest:guest@127.0.0.1:5672/ (a URL without "
            "a vhost gives the cloud its own, created through RabbitMQ's management API; "
            "one that names a vhost, e.g. .../5672//, uses it if no other cloud serves there)",
        )
        c.add_argument(
            "--management-url",
            default=None,
            help="RabbitMQ's management API (default: http://<host>:<AMQP port + 10000>)",
        )
        c.add_argument(
            "--database-url",
            default=None,
            help="a SQLAlchemy URL template with {project}, e.g. "
            "postgresql://127.0.0.1/labcloud_{project} (default: SQLite files); missing "
            "databases are created, and every up empties them (a new cloud each time)",
        )
        c.add_argument("--hosts", type=int, default=2, help="compute hosts (default: 2)")
        c.add_argument(
            "--token-expiration",
            type=int,
            default=0,
            metavar="SECONDS",
            help="how long keystone's tokens live (keystone's [token] expiration; default: 3600)",
        )
        c.add_argument(
            "--driver",
            default="fake",
            choices=["fake", "libvirt"],
            help="hypervisor driver (default: fake)",
        )
        c.add_argument("--timeout", type=float, default=60, help="seconds to wait for the APIs")
        c.add_argument(
            "--debug-port",
            type=int,
            default=0,
            metavar="PORT",
            help="let a debugger attach on 127.0.0.1:PORT (debugpy; e.g. 5678, VS Code's "
            "'Python: Attach'): breakpoints in any service's code stop it. This replaces the "
            "seed's pydevd.settrace() and its eventlet monkey_patch(thread=False) workaround",
        )
        c.set_defaults(func=func)
    sub.add_parser("status", help="is the cloud running, does every API answer?").set_defaults(
        func=status
    )
    sub.add_parser("down", help="stop the cloud").set_defaults(func=down)
    from labcloud.identity.keymanage import add_parser as add_token_parser

    add_token_parser(sub)
    d = sub.add_parser(
        "debug",
        help="see and release paused services of a cloud on RabbitMQ",
        description="The stepper of a cloud in another process (labcloud up --transport-url "
        "amqp://...): list breakpoints and paused services, set a breakpoint, continue.",
        epilog="examples:\n  labcloud debug list\n  labcloud debug break 9\n"
        "  labcloud debug break method build_and_run_instance\n"
        "  labcloud debug continue\n  labcloud debug step\n  labcloud debug clear",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument(
        "action",
        choices=["list", "break", "continue", "step", "run-to", "clear"],
        nargs="?",
        default="list",
    )
    d.add_argument("what", nargs="*", help="the breakpoint, the pause id, or the step")
    d.add_argument(
        "--transport-url", default=None, help="default: the running `labcloud up`'s transport"
    )
    d.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for answers")
    d.set_defaults(func=debug)
    from labcloud.lab.cli import add_parser as add_lab_parser

    add_lab_parser(sub)
    from labcloud.binaries.cli import add_parsers as add_process_parsers

    add_process_parsers(sub)  # run, config, db, deploy, logs; up --processes (issue 12)
    from labcloud.netns.cli import add_parser as add_netns_parser

    add_netns_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
