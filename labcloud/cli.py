"""``labcloud``: start, inspect and stop a cloud from the shell.

    labcloud up          start a cloud in the background, write clouds.yaml and an openrc
    labcloud status      is it running, and does every API answer?
    labcloud down        stop it

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
    try:
        return dict(json.loads(_info_file(state).read_text()))
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serve(args: argparse.Namespace) -> int:
    """Run a cloud in the foreground until SIGTERM/SIGINT (what ``up`` starts)."""
    from labcloud.cloud import LabCloud
    from labcloud.config import Settings
    from labcloud.spec import CloudSpec

    state = Path(args.state_dir)
    ports = {name: port for name, port in DEVSTACK_PORTS.items() if _port_free(port)}
    settings = Settings(
        transport_url=args.transport_url,
        state_dir=state / "data",
        database_url=args.database_url,
        ports=ports,
    )
    shutil.rmtree(state / "data", ignore_errors=True)  # every `up` starts a new cloud
    (state / "data").mkdir(parents=True, exist_ok=True)
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
    with LabCloud(
        CloudSpec.demo(hosts=args.hosts), settings, compute_driver=args.driver, share_trace=shared
    ) as cloud:
        info = {
            "pid": os.getpid(),
            "urls": cloud.urls,
            "transport_url": args.transport_url,
            "started": time.time(),
        }
        _info_file(state).write_text(json.dumps(info, indent=2))
        while not stop["now"]:
            signal.pause()
    _info_file(state).unlink(missing_ok=True)
    return 0


def _write_client_files(state: Path, urls: dict[str, str]) -> tuple[Path, Path]:
    auth_url = urls["identity"] + "/v3"
    clouds = state / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  labcloud:\n    auth:\n"
        f"      auth_url: {auth_url}\n      username: demo\n      password: demo-secret\n"
        "      project_name: demo\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n    region_name: RegionOne\n"
        "    identity_api_version: 3\n    interface: public\n"
        "  labcloud-admin:\n    auth:\n"
        f"      auth_url: {auth_url}\n      username: admin\n      password: admin-secret\n"
        "      project_name: admin\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n    region_name: RegionOne\n"
        "    identity_api_version: 3\n    interface: public\n"
    )
    openrc = state / "openrc"
    openrc.write_text(
        f"export OS_AUTH_URL={auth_url}\nexport OS_USERNAME=demo\n"
        "export OS_PASSWORD=demo-secret\nexport OS_PROJECT_NAME=demo\n"
        "export OS_USER_DOMAIN_NAME=Default\nexport OS_PROJECT_DOMAIN_NAME=Default\n"
        "export OS_REGION_NAME=RegionOne\nexport OS_IDENTITY_API_VERSION=3\n"
    )
    return clouds, openrc


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
    if info and _alive(int(info["pid"])):
        print(f"labcloud is already running (pid {info['pid']}); `labcloud down` stops it.")
        return 1
    state.mkdir(parents=True, exist_ok=True)
    _info_file(state).unlink(missing_ok=True)
    log = state / "labcloud.log"
    cmd = [
        sys.executable,
        "-m",
        "labcloud.cli",
        "--state-dir",
        str(state),
        "serve",
        "--transport-url",
        args.transport_url,
        "--hosts",
        str(args.hosts),
        "--driver",
        args.driver,
    ] + (["--database-url", args.database_url] if args.database_url else [])
    cmd += ["--debug-port", str(args.debug_port)] if args.debug_port else []
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
    clouds, openrc = _write_client_files(state, info["urls"])
    print("==> labcloud is up:")
    for kind, url in info["urls"].items():
        print(f"    {kind:9} {url}")
    print(
        f"\nUse it with the openstack CLI:\n    export OS_CLIENT_CONFIG_FILE={clouds}\n"
        f"    openstack --os-cloud labcloud server list\nor:\n    source {openrc}\n"
        "    openstack token issue\n\n`labcloud status` checks it; `labcloud down` stops it."
    )
    if args.debug_port:
        print(
            f"A debugger can attach on 127.0.0.1:{args.debug_port} (debugpy: VS Code's "
            "'Python: Attach', or any DAP client)."
        )
    if not args.transport_url.startswith("memory"):
        print("Its trace and stepper are on the broker: `labcloud debug` lists paused services.")
    return 0


def status(args: argparse.Namespace) -> int:
    info = _read_info(Path(args.state_dir))
    if not info or not _alive(int(info["pid"])):
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
        if not info or not _alive(int(info["pid"])):
            print("labcloud is not running; give --transport-url to reach a cloud elsewhere.")
            return 3
        url = str(info["transport_url"])
    if url.startswith("memory"):
        print(
            "this cloud runs on memory://: only its own process can step it. Start it with\n"
            "    labcloud up --transport-url amqp://guest:guest@127.0.0.1:5672//"
        )
        return 2
    from labcloud.notebook.remote import RemoteCloud
    from labcloud.notebook.stepper import _parse

    with RemoteCloud(url) as remote:
        stepper = remote.stepper
        if args.action == "break":
            stepper.break_on(**_parse(" ".join(args.what)))
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


def lab(args: argparse.Namespace) -> int:
    """Instructor commands for the lab notebooks."""
    from labcloud.lab import LABS
    from labcloud.lab import build as labs

    root = Path(args.labs_dir) if args.labs_dir else None
    if args.action == "list":
        for number, (_, title) in LABS.items():
            _, student = labs.paths(number, root)
            there = "" if student.exists() else "  (not written yet)"
            print(f"{number}  {title:18} {student.name}{there}")
        return 0
    if args.action == "reset":
        if not args.what:
            print("say which lab: labcloud lab reset 04")
            return 2
        for number in args.what:
            path, took = labs.reset(number.zfill(2), root)
            print(f"reset {path} and its cloud's state in {took:.2f} s")
        return 0
    if args.action == "build":
        for number in args.what or list(LABS):
            solution, student = labs.paths(number.zfill(2), root)
            if not solution.exists():
                continue
            labs.build(number.zfill(2), root)
            print(f"ran {solution} and wrote and ran {student}")
        return 0
    if args.action == "check":
        failed = 0
        for name in args.what:
            results = labs.run_and_check(Path(name))
            print(f"{name}:")
            for r in results:
                print(
                    f"  {'passed' if r.passed else 'FAILED'}  {r.exercise}"
                    + (f"  - {r.hint}" if r.hint else "")
                )
            if not results:
                print("  no checks ran")
            failed += sum(not r.passed for r in results) + (not results)
        return 1 if failed else 0
    print("labcloud lab list | reset NN | check PATH")
    return 2


def down(args: argparse.Namespace) -> int:
    state = Path(args.state_dir)
    info = _read_info(state)
    if not info or not _alive(int(info["pid"])):
        print("labcloud is not running.")
        _info_file(state).unlink(missing_ok=True)
        return 0
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # waiting for another process to exit: there is no event to wait on
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    _info_file(state).unlink(missing_ok=True)
    print(f"labcloud (pid {pid}) stopped.")
    return 0


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
            help="memory:// (in-process) or amqp://guest:guest@127.0.0.1:5672//",
        )
        c.add_argument(
            "--database-url",
            default=None,
            help="a SQLAlchemy URL template with {project}, e.g. "
            "postgresql://127.0.0.1/labcloud_{project} (default: SQLite files)",
        )
        c.add_argument("--hosts", type=int, default=2, help="compute hosts (default: 2)")
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
    lb = sub.add_parser(
        "lab",
        help="instructor commands: list the labs, reset one, check a student's notebook",
        description="list: the labs. reset NN: put lab NN's notebook back as handed out and "
        "forget its cloud. check PATH...: run notebooks and report each exercise's check. "
        "build [NN]: (for lab authors) run labs/solutions/NN-*.ipynb, write the student "
        "version labs/NN-*.ipynb from it and run that, keeping outputs for nbval.",
        epilog="examples:\n  labcloud lab list\n  labcloud lab reset 04\n"
        "  labcloud lab check labs/04-boot-flow.ipynb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lb.add_argument("action", choices=["list", "reset", "check", "build"])
    lb.add_argument("what", nargs="*", help="lab numbers (reset) or notebook paths (check)")
    lb.add_argument("--labs-dir", default=None, help="default: the checkout's labs/")
    lb.set_defaults(func=lab)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
