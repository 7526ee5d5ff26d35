"""What the trace bus carries besides messages: HTTP calls with the token's owner, database
writes, volume and port states, grouped by request."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from labcloud.cloud import LabCloud
from labcloud.spec import CloudSpec
from labcloud.trace.bus import by_request
from labcloud.trace.events import DbEvent, HttpEvent, StateEvent
from labcloud.trace.flow import FlowRecorder
from tests.integration.cloud.test_boot_flow import Client, make_volume


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


def test_a_boot_with_a_volume_reports_http_db_and_states(cloud: LabCloud) -> None:
    log = cloud.bus.collect()
    flow = FlowRecorder(cloud.bus)
    port_up = threading.Event()  # the L2 agent reports the port up after the spawn
    cloud.bus.subscribe(
        lambda _: port_up.set(),
        where=lambda e: isinstance(e, StateEvent) and e.resource == "port" and e.status == "ACTIVE",
    )
    client = Client(cloud)
    volume = make_volume(cloud, client)
    uuid = client.boot(
        block_device_mapping_v2=[
            {"uuid": volume, "source_type": "volume", "destination_type": "volume"}
        ]
    )
    flow.wait_for_state(uuid, "ACTIVE")
    http = [e for e in log if isinstance(e, HttpEvent) and e.source == "nova-compute"]
    assert {(e.method, e.target) for e in http} >= {
        ("GET", "glance-api"),
        ("POST", "neutron-server"),
    }
    assert all(e.user == "demo" and e.status < 400 for e in http)
    writes = {(e.service, e.table, e.op) for e in log if isinstance(e, DbEvent)}
    assert ("nova", "instances", "insert") in writes
    assert ("nova", "instances", "update") in writes
    assert ("neutron-server", "ports", "insert") in writes
    volume_states = [e.status for e in log if isinstance(e, StateEvent) and e.resource == "volume"]
    assert volume_states[:2] == ["creating", "available"]
    assert volume_states[-1] == "in-use"
    assert port_up.wait(30), "the port never became ACTIVE"
    port_states = [e.status for e in log if isinstance(e, StateEvent) and e.resource == "port"]
    assert port_states[0] == "DOWN"  # created by nova-compute's request, not plugged yet
    assert port_states[-1] == "ACTIVE"  # plugged: the agent said update_device_list
    groups = by_request(log)
    boot_request = next(e.request_id for e in log if isinstance(e, StateEvent) and e.id == uuid)
    kinds = {type(e).__name__ for e in groups[boot_request]}
    assert {"StepEvent", "MessageEvent", "HttpEvent", "StateEvent"} <= kinds
    log.close()
    flow.close()


def test_a_rolled_back_write_reports_nothing(cloud: LabCloud) -> None:
    from labcloud.compute.models import Flavor

    log = cloud.bus.collect(where=lambda e: isinstance(e, DbEvent))

    def write_then_fail() -> None:
        with cloud.compute.db.session() as s:
            s.add(Flavor(id="x", name="x", vcpus=1, memory_mb=1, root_gb=1))
            s.flush()
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert [e for e in log if e.table == "flavors"] == []
    log.close()


def test_a_bounded_log_keeps_the_latest(cloud: LabCloud) -> None:
    log = cloud.bus.collect(maxlen=10)
    for _ in range(10):  # each login is a few events (steps 1-2, its HTTP exchange)
        cloud.login("demo")
    assert len(log) == 10
    assert log.dropped > 0
    log.close()
