"""The shell commands of a cloud of processes, added to ``labcloud``'s parser by
``add_parsers(sub)``:

    labcloud run nova-compute --config /etc/labcloud/labcloud.conf --host compute1
    labcloud config sample > labcloud.conf      labcloud db sync nova --config FILE
    labcloud deploy units --config FILE         labcloud logs nova-api [-f]
    labcloud up --processes ...                 (status and down know such a cloud too)
    labcloud broker start|status|stop           a RabbitMQ node of labcloud's own for it
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labcloud.binaries import BINARIES

if TYPE_CHECKING:
    from labcloud.binaries.rabbitnode import RabbitNode

PAUSE = threading.Event()  # never set: paces `logs -f`


def cmd_run(args: argparse.Namespace) -> int:
    from labcloud.binaries.runner import run

    return run(args.binary, args.config, host=args.host)


def cmd_config_sample(args: argparse.Namespace) -> int:
    from labcloud.conf import sample

    text = sample()
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_db_sync(args: argparse.Namespace) -> int:
    from labcloud.binaries import dbsync
    from labcloud.conf import PROJECTS, load

    for project in PROJECTS if args.project == "all" else [args.project]:
        try:
            before, after = dbsync.sync(project, load(args.config, project).database_url)
        except dbsync.DatabaseRefused as exc:
            print(f"labcloud db sync {project}: {exc}", file=sys.stderr)
            return 1
        print(f"{project}: {before or 'empty'} -> {after}")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from labcloud.binaries.bootstrap import bootstrap
    from labcloud.spec import CloudSpec

    made = bootstrap(args.config, CloudSpec.demo(hosts=args.hosts))
    print("bootstrapped" if made else "keystone was bootstrapped already: nothing changed")
    return 0


def cmd_deploy_units(args: argparse.Namespace) -> int:
    from labcloud.binaries.units import write_units

    for path in write_units(Path(args.config), Path(args.output), hosts=args.hosts):
        print(path)
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    import logging

    from labcloud.binaries.fabric import HostFabric
    from labcloud.binaries.supervisor import Supervisor, programs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    hosts = [f"compute{i}" for i in range(1, args.hosts + 1)]
    gate = Path(args.start_when) if args.start_when else None
    config = Path(args.config)
    fabric = HostFabric.of(config, ("controller", *hosts))  # the network host's too
    return Supervisor(Path(args.state_dir), config, programs(hosts), fabric).run(gate)


def cmd_logs(args: argparse.Namespace) -> int:
    logs = Path(args.state_dir) / "logs"
    found = sorted(logs.glob(f"{args.service}.log")) or sorted(logs.glob(f"{args.service}-*.log"))
    if not found:
        known = ", ".join(sorted(p.stem for p in logs.glob("*.log"))) or "none"
        print(f"no log for {args.service} in {logs} (there are: {known})", file=sys.stderr)
        return 1
    files = [path.open() for path in found]
    for handle in files:
        sys.stdout.write(handle.read())
    while args.follow:  # as tail -f: a file has nothing to wait on
        for path, handle in zip(found, files, strict=True):
            more = handle.read()
            if more:
                sys.stdout.write("".join(f"{path.stem}: {line}\n" for line in more.splitlines()))
                sys.stdout.flush()
        PAUSE.wait(0.2)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    """A RabbitMQ node of labcloud's own in ``<state-dir>/rabbitmq``: start prints its
    transport URL (alone on stdout, for ``URL=$(labcloud broker start)``)."""
    from labcloud.binaries.rabbitnode import RabbitNode

    home = Path(args.state_dir) / "rabbitmq"
    node = RabbitNode.load(home)
    if args.action == "start":
        if node is not None and node.running():
            print(f"==> RabbitMQ node {node.name} already runs", file=sys.stderr)
            print(node.url)
            return 0
        if node is not None:
            node.stop()  # a node that died: its epmd and its directory
        try:
            node = RabbitNode.create(home).start()
        except RuntimeError as exc:
            print(f"labcloud broker start: {exc}", file=sys.stderr)
            return 1
        print(_describe(node), file=sys.stderr)
        print(node.url)
        return 0
    if node is None or not node.running():
        print(f"no RabbitMQ node of labcloud's runs from {home}", file=sys.stderr)
        if node is not None and args.action == "stop":
            node.stop()  # what a dead node left
        return 3 if args.action == "status" else 0
    if args.action == "status":
        print(_describe(node))
        return 0
    node.stop()
    print(f"RabbitMQ node {node.name} stopped; {home} removed")
    return 0


def _describe(node: RabbitNode) -> str:
    return (
        f"==> RabbitMQ node {node.name}, pid {node.pid()}, data and logs in {node.home}\n"
        f"    transport URL {node.url}\n    management API {node.management_url}"
    )


def _with_processes(
    original: Callable[[argparse.Namespace], int], mine: Callable[[argparse.Namespace], int]
) -> Callable[[argparse.Namespace], int]:
    """``status`` and ``down``: a cloud of processes if one runs here, else the original."""

    def either(args: argparse.Namespace) -> int:
        from labcloud.binaries.supervisor import read_status

        if read_status(Path(args.state_dir)) is not None:
            return mine(args)
        return original(args)

    return either


def _up(original: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def up(args: argparse.Namespace) -> int:
        if not args.processes:
            if args.datapath != "noop":  # the in-kernel cloud: LabCloud(datapath=...)
                print("--datapath goes with --processes", file=sys.stderr)
                return 2
            return original(args)
        from labcloud.binaries.processes import up as up_processes

        if args.transport_url.startswith("memory"):
            print("--processes needs RabbitMQ: --transport-url amqp://...", file=sys.stderr)
            return 2
        from labcloud.messaging.exceptions import MessagingError
        from labcloud.messaging.vhost import cloud_transport_url

        try:
            url = cloud_transport_url(
                args.transport_url,
                str(Path(args.state_dir).resolve()),
                management_url=args.management_url,
            )
        except MessagingError as exc:
            print(f"labcloud cannot use {args.transport_url}: {exc}", file=sys.stderr)
            return 1
        return up_processes(args, url)

    return up


def _status(args: argparse.Namespace) -> int:
    from labcloud.binaries.processes import status_of

    return status_of(Path(args.state_dir))


def _down(args: argparse.Namespace) -> int:
    from labcloud.binaries.processes import down

    return down(Path(args.state_dir))


def _extend_up_status_down(sub: Any) -> None:
    up = sub.choices["up"]
    up.add_argument("--processes", action="store_true", help="one process per binary")
    up.add_argument("--report-interval", type=float, default=10.0, help="(with --processes)")
    up.add_argument("--service-down-time", type=float, default=60.0, help="(with --processes)")
    up.add_argument(
        "--build-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="(with --processes) nova's instance_build_timeout: a build that has not moved "
        "for this long ends in ERROR, its ports freed (0: never)",
    )
    up.add_argument(
        "--vif-plugging-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="(with --processes) nova's vif_plugging_timeout: how long a build waits for "
        "neutron's network-vif-plugged before it fails (0: does not wait)",
    )
    up.add_argument(
        "--datapath",
        default="noop",
        choices=["noop", "linuxbridge", "auto"],
        help="(with --processes) what neutron's agents build: noop (default: ports go ACTIVE, "
        "nothing is built), linuxbridge (root: bridges, dnsmasq and pingable guests in network "
        "namespaces lc-<tag>-...), auto (linuxbridge when root with the tools, else noop)",
    )
    up.set_defaults(func=_up(up.get_default("func")))
    status = sub.choices["status"]
    status.set_defaults(func=_with_processes(status.get_default("func"), _status))
    down = sub.choices["down"]
    down.set_defaults(func=_with_processes(down.get_default("func"), _down))


def add_parsers(sub: Any) -> None:
    """Add run, config, db, bootstrap, deploy, logs and supervise; teach up, status and down."""
    config = {"required": True, "help": "labcloud.conf (`labcloud config sample` writes one)"}
    r = sub.add_parser("run", help="run one OpenStack binary in the foreground")
    r.add_argument("binary", choices=list(BINARIES))
    r.add_argument("--config", **config)
    r.add_argument("--host", default=None, help="this process's host (default: [DEFAULT] host)")
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("config", help="labcloud.conf").add_subparsers(dest="what", required=True)
    s = c.add_parser("sample", help="print a documented labcloud.conf")
    s.add_argument("--output", "-o", default=None, help="write it here instead")
    s.set_defaults(func=cmd_config_sample)
    d = sub.add_parser("db", help="databases").add_subparsers(dest="what", required=True)
    sync = d.add_parser("sync", help="a project's schema, by its migrations (nova-manage db sync)")
    sync.add_argument("project", choices=["all", "keystone", "nova", "glance", "neutron", "cinder"])
    sync.add_argument("--config", **config)
    sync.set_defaults(func=cmd_db_sync)
    b = sub.add_parser("bootstrap", help="keystone's accounts and catalog, the demo's content")
    b.add_argument("--config", **config)
    b.add_argument("--hosts", type=int, default=2)
    b.set_defaults(func=cmd_bootstrap)
    dep = sub.add_parser("deploy", help="deployment files").add_subparsers(
        dest="what", required=True
    )
    u = dep.add_parser("units", help="a systemd unit per binary")
    u.add_argument("--config", **config)
    u.add_argument("--output", default="/etc/systemd/system", help="(default: %(default)s)")
    u.add_argument("--hosts", default="compute1", help="nova-compute hosts, comma-separated")
    u.set_defaults(func=cmd_deploy_units)
    lg = sub.add_parser("logs", help="a service's log (labcloud up --processes)")
    lg.add_argument("service", help="e.g. nova-api, nova-compute, nova-compute-compute1")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.set_defaults(func=cmd_logs)
    sv = sub.add_parser("supervise", help="(what up --processes starts in the background)")
    sv.add_argument("--config", **config)
    sv.add_argument("--hosts", type=int, default=2)
    sv.add_argument("--start-when", default=None, help="fork the binaries once this file exists")
    sv.set_defaults(func=cmd_supervise)
    br = sub.add_parser(
        "broker",
        help="a RabbitMQ node of labcloud's own (never the machine's) for up --processes",
        description="start: a RabbitMQ node from the rabbitmq-server package with its own "
        "name, ports, data and logs in <state-dir>/rabbitmq; prints its transport URL. "
        "status: is it running. stop: stop it and remove its directory.",
    )
    br.add_argument("action", choices=["start", "status", "stop"])
    br.add_argument("--state-dir", default=argparse.SUPPRESS, help="(as labcloud --state-dir)")
    br.set_defaults(func=cmd_broker)
    _extend_up_status_down(sub)
