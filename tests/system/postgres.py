"""PostgreSQL for the system tests: a role on the machine's server, or a server of their own.

``machine_role()``: a role with CREATEDB on the machine's PostgreSQL (127.0.0.1:5432, or the
superuser URL in LABCLOUD_TEST_POSTGRES_URL); its databases and the role are dropped after.

``PrivateCluster``: a PostgreSQL server the tests start for themselves (Debian's ``initdb``
and ``pg_ctl`` under /usr/lib/postgresql/*/bin, run as the ``postgres`` user), on a free port
of 127.0.0.1 with its own data directory, which a test may stop and start as it likes. The
machine's server is never stopped, restarted or reconfigured.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import require

SUPERUSER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BIN_GLOB = "/usr/lib/postgresql/*/bin"
PREFIX = "labcloud-pg-"


def engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url, isolation_level="AUTOCOMMIT")


def _drop_role(server: Any, role: str) -> None:
    from sqlalchemy import text

    with server.connect() as conn:
        owned = conn.execute(
            text(
                "select datname from pg_database d join pg_roles r on d.datdba = r.oid "
                "where r.rolname = :role"
            ),
            {"role": role},
        ).scalars()
        for db in list(owned):
            conn.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :db"),
                {"db": db},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))


@contextlib.contextmanager
def machine_role() -> Iterator[str]:
    """A role of the test's own (LOGIN CREATEDB) on the machine's server; dropped after,
    with every database it owns."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    server = engine(os.environ.get("LABCLOUD_TEST_POSTGRES_URL", SUPERUSER_URL))
    try:
        with server.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        require(False, f"no PostgreSQL to test on ({str(exc).splitlines()[0]})")
    role = f"labcloud_test_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN CREATEDB"))
    try:
        yield role
    finally:
        _drop_role(server, role)
        server.dispose()


def binaries() -> Path | None:
    """The newest PostgreSQL's programs (initdb, pg_ctl, postgres), if installed."""
    found = sorted(Path("/").glob(BIN_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    found = [p for p in found if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL server of the test's own: ``start()``, ``stop()``, ``url``, ``close()``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.home = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/labcloud"
        shutil.chown(self.home, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.home}'\nmax_connections = 300\n"
                "shared_buffers = 16MB\nfsync = off\n"
            )

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.home,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{self._tail()}")

    def _tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``pg_ctl -w``)."""
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``fast`` ends every session at once (what a restart does to them)."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

    def close(self) -> None:
        """Stop the server however it is, and remove its directory."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        with contextlib.suppress(OSError, ValueError, IndexError, ProcessLookupError):
            pid = int(pid_file.read_text().splitlines()[0])
            if str(self.data) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started PostgreSQL server of the test's own, removed after (also on failure)."""
    bin_dir = binaries()
    require(bin_dir is not None, f"PostgreSQL's initdb is not installed ({BIN_GLOB})")
    assert bin_dir is not None
    require(shutil.which("runuser") is not None, "runuser is missing (util-linux)")
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
