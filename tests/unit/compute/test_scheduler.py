"""nova-scheduler's decisions, on a real database of compute nodes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from labcloud.compute.models import Base, ComputeNode
from labcloud.compute.scheduler.filters import ImagePropertiesFilter
from labcloud.compute.scheduler.host_state import HostState
from labcloud.compute.scheduler.manager import SchedulerManager
from labcloud.compute.scheduler.rpcapi import SchedulerAPI
from labcloud.compute.servicegroup import ServiceGroup, utcnow
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import NoValidHost
from labcloud.messaging import RPCServer, Target, get_transport

TINY = {"vcpus": 1, "memory_mb": 512, "root_gb": 1}
XLARGE = {"vcpus": 8, "memory_mb": 16384, "root_gb": 160}


def spec(flavor: dict[str, int] = TINY, **extra: Any) -> dict[str, Any]:
    return {"flavor": flavor, "ignore_hosts": [], **extra}


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite://", Base.metadata)
    database.create_all()
    with database.session() as s:
        for host, used, az in (("c1", 4096, "nova"), ("c2", 0, "nova"), ("c3", 0, "edge")):
            s.add(
                ComputeNode(
                    host=host,
                    vcpus=8,
                    memory_mb=16384,
                    local_gb=160,
                    memory_mb_used=used,
                    availability_zone=az,
                    updated_at=utcnow(),
                )
            )
    yield database
    database.dispose()


def manager(db: Database, **kwargs: Any) -> SchedulerManager:
    m = SchedulerManager(db, **kwargs)
    m.refresh(None)
    return m


def test_spread_picks_the_most_free_ram_and_consumes_it(db: Database) -> None:
    m = manager(db)
    first = m.select_destinations(None, spec(availability_zone="nova"), ["i1"])[0]["host"]
    assert first == "c2"
    hosts = [
        d["host"]
        for d in m.select_destinations(
            None,
            spec({"vcpus": 1, "memory_mb": 8192, "root_gb": 1}, availability_zone="nova"),
            ["a", "b"],
        )
    ]
    assert hosts == ["c2", "c1"]  # c2 lost 8 GB to the first, so the second goes to c1


def test_a_negative_multiplier_stacks(db: Database) -> None:
    assert (
        manager(db, ram_weight_multiplier=-1.0).select_destinations(
            None, spec(availability_zone="nova"), ["i"]
        )[0]["host"]
        == "c1"
    )


def test_no_valid_host_names_the_filter(db: Database) -> None:
    m = manager(db)
    m.select_destinations(None, spec(XLARGE), ["x1"])
    with pytest.raises(NoValidHost, match=r"No valid host was found\..*RamFilter removed"):
        m.select_destinations(None, spec({"vcpus": 1, "memory_mb": 30000, "root_gb": 1}), ["x"])


def test_ignore_hosts_disabled_and_zones(db: Database) -> None:
    m = manager(db)
    chosen = m.select_destinations(None, spec(ignore_hosts=["c2", "c3"]), ["i"])
    assert chosen[0]["host"] == "c1"
    m.update_host(
        None, {"host": "c1", "vcpus": 8, "memory_mb": 16384, "local_gb": 160, "enabled": False}
    )
    with pytest.raises(NoValidHost, match="ComputeFilter removed 1"):
        m.select_destinations(None, spec(ignore_hosts=["c2", "c3"]), ["i"])
    assert m.select_destinations(None, spec(availability_zone="edge"), ["i"])[0]["host"] == "c3"


def test_image_properties_filter() -> None:
    kvm = HostState("h", "nova", "qemu", 8, 0, 1024, 0, 10, 0, 0)
    f = ImagePropertiesFilter()
    assert f.host_passes(kvm, spec(image_properties={"img_hv_type": "qemu"}))
    assert not f.host_passes(kvm, spec(image_properties={"img_hv_type": "xen"}))
    assert not f.host_passes(kvm, spec(image_properties={"hw_architecture": "aarch64"}))


def test_over_rpc_no_valid_host_arrives_as_itself(db: Database) -> None:
    transport = get_transport("memory://")
    m = manager(db)
    server = RPCServer(transport, Target("nova", "scheduler", server="s1"), [m])
    server.start()
    try:
        api = SchedulerAPI(transport)
        assert api.select_destinations(RequestContext(), spec(), ["i"])[0]["host"] == "c2"
        with pytest.raises(NoValidHost):
            api.select_destinations(
                RequestContext(), spec({"vcpus": 1, "memory_mb": 99999, "root_gb": 1}), ["i"]
            )
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def test_a_hosts_first_report_reaches_the_scheduler_enabled_and_up(tmp_path: Path) -> None:
    """The row a brand-new host reports must not look disabled (column defaults apply only
    at INSERT; a None there made ComputeFilter drop the host when the report came late)."""
    from labcloud.compute.conductor.manager import ConductorManager
    from labcloud.compute.instances import Instances

    class Recorder:
        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def update_host(self, ctxt: object, row: dict[str, Any]) -> None:
            self.rows.append(row)

        def select_destinations(self, *args: object) -> list[dict[str, Any]]:
            raise AssertionError("not used")

    db = Database(f"sqlite:///{tmp_path / 'nova.sqlite'}", Base.metadata)
    db.create_all()
    recorder = Recorder()
    conductor = ConductorManager(Instances(db, None, "nova-conductor"), recorder, None)  # type: ignore[arg-type]
    conductor.compute_node_update(
        None,  # type: ignore[arg-type]
        "compute9",
        {"vcpus": 4, "memory_mb": 4096, "local_gb": 40},
    )
    (row,) = recorder.rows
    assert row["enabled"] is True
    state = HostState.from_row(row)
    assert state.enabled
    assert ServiceGroup().is_up(state.updated_at)
    db.dispose()


def test_a_request_that_does_not_fit_whole_takes_nothing(tmp_path: Path) -> None:
    """min_count=3 where two fit: NoValidHost, and the two tentative picks are given back."""
    db = Database(f"sqlite:///{tmp_path / 'nova.sqlite'}", Base.metadata)
    db.create_all()
    with db.session() as s:
        s.add(  # 2,304 MB with 1.5x
            ComputeNode(host="h1", vcpus=8, memory_mb=1536, local_gb=100, updated_at=utcnow())
        )
    scheduler = SchedulerManager(db)
    scheduler.refresh(None)
    flavor = {"vcpus": 1, "memory_mb": 1024, "root_gb": 1}
    spec = {"flavor": flavor, "num_instances": 3}
    with pytest.raises(NoValidHost):
        scheduler.select_destinations(None, spec, ["a", "b", "c"])
    (host,) = scheduler.hosts.get_all()
    assert (host.memory_mb_used, host.vcpus_used, host.num_instances) == (0, 0, 0)
    assert len(scheduler.select_destinations(None, spec, ["a", "b"])) == 2  # still fits
    db.dispose()


def test_a_host_silent_longer_than_service_down_time_is_filtered_out(db: Database) -> None:
    m = SchedulerManager(db, servicegroup=ServiceGroup(down_time=60))
    m.refresh(None)
    stale = (utcnow() - timedelta(seconds=61)).isoformat()
    for host in ("c1", "c2"):
        m.update_host(
            None,
            {"host": host, "vcpus": 8, "memory_mb": 16384, "local_gb": 160, "updated_at": stale},
        )
    with pytest.raises(NoValidHost, match="ComputeFilter removed 2"):
        m.select_destinations(None, spec(ignore_hosts=["c3"]), ["i"])
    fresh = utcnow().isoformat()
    m.update_host(
        None, {"host": "c2", "vcpus": 8, "memory_mb": 16384, "local_gb": 160, "updated_at": fresh}
    )
    assert m.select_destinations(None, spec(ignore_hosts=["c3"]), ["i"])[0]["host"] == "c2"


def test_a_host_that_never_reported_is_down() -> None:
    group = ServiceGroup(down_time=60)
    assert not group.is_up(None)
    assert group.silent_for(None) is None
    assert group.is_up(utcnow() - timedelta(seconds=59))
    assert not group.is_up(utcnow() - timedelta(seconds=61))
