"""Faults of a cloud of processes (issue 12, point 7), on the suite's own RabbitMQ node and
on PostgreSQL; the machine's broker and database server are never stopped.

- RabbitMQ killed (SIGKILL) and started again during 100 concurrent boots;
- nova-conductor killed (SIGKILL) during boots, and started again by the supervisor;
- PostgreSQL stopped and started again (a server of the test's own: tests/system/postgres.py).

What must hold afterwards is what an operator needs: every instance ends ACTIVE or ERROR with
a fault, never stuck in BUILD, and no IP address stays allocated to an instance that does not
run. A cast that was in a queue when the broker died is lost with it (oslo.messaging's
queues are not durable, and nothing resends a cast); a cast a conductor had taken when it
died is lost with it (oslo acknowledges on receipt). Those builds stop moving, and the
conductor's build timeout puts them in ERROR and frees their ports.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.system import broker
from tests.system.postgres import machine_role, private_cluster
from tests.system.processcloud import PAUSE, ProcessCloud, up

pytestmark = [pytest.mark.slow, pytest.mark.rabbitmq, pytest.mark.timeout(900)]
HOSTS = 3  # 48 m1.tiny per fake host (16 GiB x 1.5): room for 100 boots and more
BUILD_TIMEOUT = 30.0  # s without progress before a build is given up (nova's default: off)
# s a build waits for network-vif-plugged (nova's default: 300). A broker that dies takes
# with it the events in its queues: as in nova, the builds that waited for them fail when
# this runs out, and until then they hold nova-compute's workers
VIF_TIMEOUT = 20.0
DOWN_TIME = 10.0  # s of silence after which a nova-compute is down


def _up_args(rabbit: Any, database_url: str) -> tuple[str, ...]:
    return (
        "--transport-url",
        rabbit.url.rstrip("/"),  # no vhost: the cloud gets one of its own
        "--management-url",
        rabbit.management_url,
        "--database-url",
        database_url,
        "--hosts",
        str(HOSTS),
        "--report-interval",
        "2",
        "--service-down-time",
        str(DOWN_TIME),
        "--build-timeout",
        str(BUILD_TIMEOUT),
        "--vif-plugging-timeout",
        str(VIF_TIMEOUT),
        "--timeout",
        "240",
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, rabbit: Any) -> Iterator[ProcessCloud]:
    """A cloud of processes on the suite's RabbitMQ node and the machine's PostgreSQL (a role
    and databases of its own, dropped after)."""
    with machine_role() as role:
        url = f"postgresql://{role}@127.0.0.1:5432/{role}"
        with up(tmp_path_factory.mktemp("faults"), *_up_args(rabbit, url)) as made:
            yield made


def _settled(cloud: ProcessCloud, what: str) -> list[dict[str, Any]]:
    """Wait for no BUILD (the build timeout plus a host's down time is the longest any
    build may take to be given up), check the invariant, print the figures."""
    servers, took = cloud.settle(timeout=BUILD_TIMEOUT + DOWN_TIME + 120)
    leaks = cloud.leaks(servers)
    states: dict[str, int] = {}
    for s in servers:
        states[s["status"]] = states.get(s["status"], 0) + 1
    faults: dict[str, int] = {}
    for s in servers:
        if s["status"] == "ERROR" and s.get("fault"):
            faults[s["fault"]["message"]] = faults.get(s["fault"]["message"], 0) + 1
    print(f"{what}: settled {took:.1f} s later: {states}; addresses held {leaks['addresses_held']}")
    print(f"faults: {faults}")
    assert leaks["error_without_fault"] == []
    assert leaks["ports_not_of_an_active_server"] == []
    assert leaks["active_without_one_port"] == []
    assert leaks["addresses_held"] == states.get("ACTIVE", 0)
    return servers


def _recovery(cloud: ProcessCloud, since: float, name: str) -> float:
    """Seconds from ``since`` until a new boot is ACTIVE: the cloud works again."""
    while True:
        answer = cloud.boot(name)
        if answer.status_code == 202:
            server = cloud.wait_active(answer.json()["server"]["id"])
            if server["status"] == "ACTIVE":
                return time.monotonic() - since
        assert time.monotonic() - since < 180, f"no boot succeeds: {answer.text[:300]}"
        PAUSE.wait(1.0)


def test_rabbitmq_killed_during_100_boots(cloud: ProcessCloud) -> None:
    broker.require_broker_control()
    back: list[float] = []

    def crash() -> None:
        broker.kill_and_start()  # SIGKILL of the node's VM, then a start: as after a crash
        back.append(time.monotonic())

    boots = cloud.boot_many(100, "storm", during=crash, after=40)
    print(f"POST /servers answers: {dict(boots.statuses)}")
    # nova-api's cast waits for the broker (up to its 60 s timeout), as oslo's reconnects
    assert set(boots.statuses) == {202}, boots.statuses
    recovery = _recovery(cloud, back[0], "after-rabbit")
    print(f"a new boot is ACTIVE {recovery:.1f} s after RabbitMQ is back")
    servers = _settled(cloud, "RabbitMQ killed during 100 boots")
    mine = {s["id"] for s in servers} & set(boots.server_ids)
    assert mine == set(boots.server_ids)  # every accepted boot is there, settled


def test_nova_conductor_killed_during_boots(cloud: ProcessCloud) -> None:
    """kill -9 of nova-conductor while builds go through it: the supervisor starts it again;
    what waited in its queue is built, what it had taken ends ERROR at the build timeout."""
    before = cloud.program("nova-conductor")
    killed: list[float] = []

    def kill() -> None:
        os.kill(int(before["pid"]), signal.SIGKILL)
        killed.append(time.monotonic())

    boots = cloud.boot_many(20, "conductor", during=kill, after=5)
    print(f"POST /servers answers: {dict(boots.statuses)}")
    assert set(boots.statuses) == {202}  # nova-api casts: the conductor's queue waits
    deadline = time.monotonic() + 60
    while cloud.program("nova-conductor")["restarts"] <= before["restarts"]:
        assert time.monotonic() < deadline, "the supervisor did not restart nova-conductor"
        PAUSE.wait(0.2)
    recovery = _recovery(cloud, killed[0], "after-conductor")
    print(f"a new boot is ACTIVE {recovery:.1f} s after nova-conductor was killed")
    _settled(cloud, "nova-conductor killed during 20 boots")


# -- PostgreSQL stopped and started again ----------------------------------------------
@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pg_cloud(tmp_path_factory: pytest.TempPathFactory, rabbit: Any, pg: Any) -> Iterator[Any]:
    state = tmp_path_factory.mktemp("faults-pg")
    with up(state, *_up_args(rabbit, pg.url)) as made:
        yield made


def _requests(cloud: ProcessCloud) -> dict[str, Any]:
    """One request per API that needs its database, made with tokens taken beforehand."""
    demo = {"X-Auth-Token": cloud.token()}
    project_id = cloud.login().json()["token"]["project"]["id"]  # cinder's URLs name it
    return {
        "keystone": lambda: cloud.login(),
        "nova": lambda: httpx.get(f"{cloud.url('nova')}/v2.1/servers", headers=demo, timeout=30),
        "glance": lambda: httpx.get(f"{cloud.url('glance')}/v2/images", headers=demo, timeout=30),
        "neutron": lambda: httpx.get(
            f"{cloud.url('neutron')}/v2.0/networks", headers=demo, timeout=30
        ),
        "cinder": lambda: httpx.get(
            f"{cloud.url('cinder')}/v3/{project_id}/volumes", headers=demo, timeout=30
        ),
    }


def _openstack_503(project: str, body: dict[str, Any]) -> bool:
    """The project's own error body, saying 503."""
    if project == "keystone":
        return bool(body["error"]["code"] == 503)
    if project == "glance":
        return bool(body["code"] == "503 Service Unavailable")
    if project == "neutron":
        return bool(body["NeutronError"]["message"])
    return bool(body["serviceUnavailable"]["code"] == 503)


def test_postgresql_stopped_then_started(pg_cloud: ProcessCloud, pg: Any) -> None:
    requests = _requests(pg_cloud)
    assert {p: r().status_code for p, r in requests.items()} == {
        "keystone": 201,
        "nova": 200,
        "glance": 200,
        "neutron": 200,
        "cinder": 200,
    }
    pg.stop()  # fast: every session is ended, as a restart ends them
    stopped = time.monotonic()
    for project, request in requests.items():
        answer = request()  # within its 30 s timeout: a hang fails here
        assert answer.status_code == 503, (project, answer.status_code, answer.text)
        assert _openstack_503(project, answer.json()), (project, answer.text)
    print(f"every API answered 503 within {time.monotonic() - stopped:.1f} s of the stop")
    pg.start()
    started = time.monotonic()
    seen: dict[str, set[int]] = {p: set() for p in requests}
    pending = set(requests)
    while pending:
        for project in sorted(pending):
            status = requests[project]().status_code
            seen[project].add(status)
            if status in (200, 201):
                pending.discard(project)
        assert time.monotonic() - started < 120, f"not recovered: {pending}, saw {seen}"
        PAUSE.wait(0.2)
    recovered = time.monotonic() - started
    print(f"every API answers again {recovered:.1f} s after PostgreSQL started: {seen}")
    assert all(statuses <= {200, 201, 503} for statuses in seen.values()), seen
    computes = pg_cloud.wait_computes_up(HOSTS)
    answer = pg_cloud.boot("after-postgres")
    assert answer.status_code == 202, answer.text
    assert pg_cloud.wait_active(answer.json()["server"]["id"])["status"] == "ACTIVE"
    print(f"computes up again {computes:.1f} s later; a boot is ACTIVE")
