"""Shared fixtures. A test that needs RabbitMQ skips on a laptop without one, and fails in CI.

RabbitMQ: the tests start a node of their own for the session (tests/system/broker.py), from
the Debian package ``./run test`` installs, and never touch the machine's broker. To run them
against another node instead, name it (one variable each; the port is what switches):

    LABCLOUD_TEST_RABBIT_HOST              its host (default 127.0.0.1)
    LABCLOUD_TEST_RABBIT_PORT              its AMQP port: set it to use that node
    LABCLOUD_TEST_RABBIT_MANAGEMENT_PORT   its management API port (default AMQP port + 10000)
    LABCLOUD_TEST_RABBIT_NODE              its rabbitmqctl node name (e.g. rabbit2@localhost);
                                           without it, tests that restart a broker cannot run

Tests that break a broker do it to that node only. Guards: pytest-timeout (SIGALRM) fails a
test that overruns its timeout; one still running 60 s later ends the session, stacks dumped
(a read that a signal cannot break); a test that leaves a thread running fails.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from labcloud.trace import TraceBus
    from tests.system.broker import RabbitNode

HARD_TIMEOUT_GRACE = 60.0  # s after pytest-timeout's limit before the session is ended
THREAD_GRACE = 5.0  # s a test's threads get to finish after its teardown


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip when a requirement is missing, except in CI, where a missing requirement fails."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI requires this, and it is missing: {why}", pytrace=False)
    pytest.skip(why)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitNode]:
    """The session's RabbitMQ node: its own (started here, stopped at the end), or the one
    LABCLOUD_TEST_RABBIT_* names."""
    from tests.system import broker

    node = broker.RabbitNode.from_env(os.environ)
    if node is not None:
        require(port_open(node.host, node.port), f"no RabbitMQ on {node.host}:{node.port}")
    else:
        require(
            broker.scripts_dir() is not None,
            "rabbitmq-server is not installed (`./run test` installs it with apt-get)",
        )
        try:
            node = broker.RabbitNode.start_own()
        except RuntimeError as exc:
            pytest.fail(f"the tests' own RabbitMQ node did not start: {exc}", pytrace=False)
    broker.NODE = node
    try:
        yield node
    finally:
        broker.NODE = None
        node.stop()


@pytest.fixture(scope="session")
def rabbitmq_url(rabbit: RabbitNode) -> str:
    """The AMQP URL of the session's RabbitMQ node (guest/guest, vhost ``/``)."""
    return rabbit.url


@pytest.fixture
def trace_bus() -> TraceBus:
    from labcloud.trace import TraceBus

    return TraceBus()


# -- no test can hang the suite, or leave a thread behind -----------------------------------
def pytest_configure(config: pytest.Config) -> None:
    # `labcloud up` merges its entries into the user's clouds.yaml: here, a throwaway one
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="labcloud-tests-config-")
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # a CI cancel: tear down, then exit
        signal.signal(signal.SIGTERM, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    if os.path.basename(config_home).startswith("labcloud-tests-config-"):
        shutil.rmtree(config_home, ignore_errors=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        return float(marker.args[0] if marker.args else marker.kwargs.get("timeout", 0))
    return float(item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)


def _hard_stop(nodeid: str, limit: float) -> None:
    """pytest-timeout's signal did not free the test: dump every stack and end the session."""
    sys.stderr.write(
        f"\n\n{nodeid} still runs {HARD_TIMEOUT_GRACE:.0f} s after its {limit:.0f} s timeout "
        "(stuck where a signal cannot reach); stacks of every thread:\n"
    )
    faulthandler.dump_traceback(all_threads=True)
    broker = sys.modules.get("tests.system.broker")
    node = getattr(broker, "NODE", None)
    if node is not None:
        node.stop()
    os._exit(1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    limit = _timeout_of(item)
    timer = None
    if limit > 0:
        timer = threading.Timer(limit + HARD_TIMEOUT_GRACE, _hard_stop, (item.nodeid, limit))
        timer.name, timer.daemon = "hard-timeout", True
        timer.start()
    try:
        return (yield)
    finally:
        if timer is not None:
            timer.cancel()


_WIDER_THREADS: set[threading.Thread] = set()  # started by session/module/class fixtures


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: Any) -> Any:
    if fixturedef.scope == "function":
        return (yield)
    before = set(threading.enumerate())
    try:
        return (yield)
    finally:
        _WIDER_THREADS.update(set(threading.enumerate()) - before)


HTTP_TIMEOUT = 60.0  # s: httpx's default of 5 s is shorter than a busy 2-core CI machine's answer


@pytest.fixture(autouse=True, scope="session")
def patient_http() -> Iterator[None]:
    """httpx's module-level calls (``httpx.get(...)`` in many tests) wait up to HTTP_TIMEOUT
    unless the test names its own timeout: a slow answer is not a failure, a hang still is
    (pytest-timeout ends it). Clients the tests build name their timeout themselves."""
    import functools

    import httpx

    with pytest.MonkeyPatch.context() as mp:
        for name in ("request", "get", "options", "head", "post", "put", "patch", "delete"):
            mp.setattr(httpx, name, functools.partial(getattr(httpx, name), timeout=HTTP_TIMEOUT))
        yield


@pytest.fixture(autouse=True)
def no_thread_outlives_its_test() -> Iterator[None]:
    """Fail a test that leaves a thread running (a publisher, a consumer, a cloud's server)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE
    left = []
    for t in set(threading.enumerate()) - before - _WIDER_THREADS:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            left.append(t.name)
    if left:
        frames = sys._current_frames()
        where = "\n".join(
            f"--- {t.name}:\n{''.join(traceback.format_stack(frames[t.ident]))}"
            for t in threading.enumerate()
            if t.name in left and t.ident in frames
        )
        pytest.fail(f"threads still running after the test: {sorted(left)}\n{where}", pytrace=False)


class Keystone:
    """A running identity service (demo spec) for other services' tests."""

    def __init__(self) -> None:
        from labcloud.binaries.content import load_accounts
        from labcloud.identity.api import create_identity_app
        from labcloud.identity.manager import IdentityManager
        from labcloud.rest.server import ApiServer
        from labcloud.spec import CloudSpec

        self.manager = IdentityManager("sqlite://", bcrypt_rounds=4)
        load_accounts(self.manager, CloudSpec.demo())
        self.server = ApiServer(create_identity_app(self.manager), name="keystone").start()
        self.url = self.server.url

    def token(self, user: str = "demo", project: str | None = None) -> str:
        """A project-scoped token for ``user`` (demo or admin), issued without a password."""
        info = self.manager.issue(self.user_id(user), project or user, methods=("password",))
        return info.id

    def user_id(self, name: str) -> str:
        return next(u["id"] for u in self.manager.names(_user_model()) if u["name"] == name)

    def project_id(self, name: str) -> str:
        from labcloud.identity.models import Project

        return next(p["id"] for p in self.manager.names(Project) if p["name"] == name)

    def validator(self) -> object:
        """A KeystoneValidator: validates over HTTP, exactly as a service does."""
        from labcloud.rest.auth import KeystoneValidator
        from labcloud.rest.client import ServiceClient

        return KeystoneValidator(ServiceClient(self.url, source="test", target="keystone"))

    def stop(self) -> None:
        self.server.stop()
        self.manager.dispose()


def _user_model() -> type:
    from labcloud.identity.models import User

    return User


@pytest.fixture
def keystone() -> Iterator[Keystone]:
    """A real identity service on 127.0.0.1; ``keystone.token("demo")`` gives a token."""
    ks = Keystone()
    yield ks
    ks.stop()
