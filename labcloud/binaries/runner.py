"""``labcloud run NAME --config FILE``: one binary in the foreground, as ``nova-compute
--config-file /etc/nova/nova.conf`` runs.

It logs to stderr in oslo.log's shape, names its process after the binary (``ps`` shows
``nova-compute``), tells systemd when it is ready (``Type=notify``), and on SIGTERM or
SIGINT stops cleanly: consumers cancelled, running methods finished, HTTP drained.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from labcloud.binaries import BINARIES, BinaryInfo
from labcloud.binaries.base import Binary
from labcloud.conf.options import ServiceConf, load
from labcloud.messaging import MessagingError

LOG = logging.getLogger("labcloud.run")
START_TIMEOUT = 120.0  # seconds a binary keeps trying to start while others are not up
PAUSE = threading.Event()  # never set: .wait(t) paces the retries
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(message)s"


def title(name: str, config: str | Path, host: str | None = None) -> str:
    """The process title ``ps`` shows: the binary's name first, as OpenStack's."""
    return f"{name} --config {config}" + (f" --host {host}" if host else "")


def notify(state: str) -> None:
    """sd_notify(3) without libsystemd: a datagram to $NOTIFY_SOCKET, when systemd gave one."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:  # as sd_notify: a listener gone away is not the service's problem
            sock.connect(address)
            sock.sendall(state.encode())
        except OSError:
            LOG.debug("nobody listens on NOTIFY_SOCKET %s", address)


def start(info: BinaryInfo, conf: ServiceConf, timeout: float = START_TIMEOUT) -> Binary:
    """Build and start the binary; while a service it calls at start-up is not serving yet
    (its queue has no consumer), build it again a second later, as nova-compute waits for
    the conductor."""
    deadline = time.monotonic() + timeout
    while True:
        binary = info.build(conf)
        try:
            return binary.start()
        except MessagingError as exc:
            binary.stop()
            if time.monotonic() >= deadline:
                raise
            LOG.warning("%s: %s; trying again in 1 s", info.name, exc)
            PAUSE.wait(1.0)


def run(name: str, config: str | Path, *, host: str | None = None) -> int:
    """Build, start and serve ``name`` until SIGTERM/SIGINT; the exit status."""
    import setproctitle

    info = BINARIES[name]
    conf = load(config, info.project)
    if host:
        conf = conf.but("DEFAULT", host=host)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if conf.DEFAULT.debug else logging.INFO,
        format=LOG_FORMAT,
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    setproctitle.setproctitle(title(name, config, host))  # ps -f, /proc/PID/cmdline
    setproctitle.setthreadtitle(name)  # ps -e, top (the kernel's comm: 15 characters)
    stop = threading.Event()

    def before_start(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # nothing to drain yet

    def when_serving(signum: int, frame: Any) -> None:
        LOG.info("%s: caught %s, stopping", name, signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, before_start)
    LOG.info("%s starting on %s (config %s)", name, conf.DEFAULT.host, config)
    binary = start(info, conf)
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, when_serving)
        notify("READY=1")
        stop.wait()
        notify("STOPPING=1")
    finally:
        binary.stop()
    return 0
