"""``Instances.update_many``: the conductor's chosen hosts, written in one transaction, the
same as one ``update`` each; it stops before an instance that is gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labcloud.compute.instances import Instances
from labcloud.compute.models import Base
from labcloud.db import Database


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Instances]:
    db = Database(f"sqlite:///{tmp_path / 'nova.sqlite'}", Base.metadata)
    db.create_all()
    yield Instances(db, None, "nova-conductor")
    db.dispose()


def _create(instances: Instances, uuid: str) -> None:
    instances.create(
        {
            "uuid": uuid,
            "display_name": uuid,
            "project_id": "p1",
            "user_id": "u1",
            "flavor": {"vcpus": 1, "memory_mb": 512, "root_gb": 1},
            "vm_state": "building",
            "task_state": "scheduling",
            "availability_zone": "nova",
        }
    )


def test_each_instance_gets_its_own_values(instances: Instances) -> None:
    for uuid in ("a", "b", "c"):
        _create(instances, uuid)
    placed = instances.update_many(
        [(u, {"host": f"compute{i}", "node": f"node{i}"}) for i, u in enumerate("abc")]
    )
    assert [(p["uuid"], p["host"], p["node"]) for p in placed] == [
        ("a", "compute0", "node0"),
        ("b", "compute1", "node1"),
        ("c", "compute2", "node2"),
    ]
    assert {i["uuid"]: i["host"] for i in instances.where()} == {
        "a": "compute0",
        "b": "compute1",
        "c": "compute2",
    }
    assert placed[1] == instances.get("b")  # what update() would have answered


def test_it_stops_before_an_instance_that_is_gone(instances: Instances) -> None:
    _create(instances, "a")
    _create(instances, "c")
    placed = instances.update_many([(u, {"host": "compute1"}) for u in ("a", "gone", "c")])
    assert [p["uuid"] for p in placed] == ["a"]
    assert instances.get("c")["host"] is None  # nothing written past the gap


def test_an_unknown_column_writes_nothing(instances: Instances) -> None:
    _create(instances, "a")
    with pytest.raises(ValueError, match="no column"):
        instances.update_many([("a", {"host": "compute1", "colour": "red"})])
    assert instances.get("a")["host"] is None
