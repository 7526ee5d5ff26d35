"""Widget state, without a browser: a real in-process cloud boots, the views follow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labcloud.cloud import LabCloud
from labcloud.notebook import Dashboard
from labcloud.notebook.broker import edge_id, node_id
from labcloud.notebook.stepper import _parse
from labcloud.spec import CloudSpec
from labcloud.trace.flow import FlowRecorder
from tests.integration.cloud.test_boot_flow import SEED_TABLE, Client


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


@pytest.fixture
def board(cloud: LabCloud) -> Dashboard:
    return cloud.watch()


def test_the_flow_view_draws_the_seeds_table_for_a_boot(cloud: LabCloud, board: Dashboard) -> None:
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    view = board.flow
    assert view.instance == uuid
    assert view.done == [*range(1, 25), 28]
    assert view.current == 28
    table = [(r["status"], r["task"], r["power"], r["steps"]) for r in view.rows]
    assert [r[:3] for r in table] == [
        ("BUILD", "scheduling", "NOSTATE"),
        ("BUILD", "networking", "NOSTATE"),
        ("BUILD", "block_device_mapping", "NOSTATE"),
        ("BUILD", "spawning", "NOSTATE"),
        ("ACTIVE", None, "Running"),
    ]
    # the seed's table, less steps 25-27: this boot asked for no volume
    assert [r[3] for r in table] == [[n for n in r[3] if n < 25 or n > 27] for r in SEED_TABLE]
    assert len(view.steps) == 28
    assert view.lanes[0] == "client"
    flow.close()


def test_the_broker_view_lays_out_once_and_counts_live(cloud: LabCloud, board: Dashboard) -> None:
    view = board.broker
    assert view.layouts == 1
    svg = view.svg
    for queue in ("conductor", "scheduler", "compute.compute1", "compute.compute2"):
        assert f'id="{node_id("q", queue)}"' in svg, queue
    assert f'id="{edge_id("nova", "compute.compute1")}"' in svg
    assert f'id="{node_id("x", "nova")}"' in svg
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    assert view.layouts == 1  # same topology: no new layout, only counts
    assert view.depths[node_id("q", "conductor")] == 0
    assert view.consumers[node_id("q", "conductor")] == 1
    assert view.rates[node_id("q", "conductor")] > 0
    assert "reply_" not in view.svg  # per-process reply queues are left out
    flow.close()


def test_the_inspector_keeps_the_last_messages_decoded(cloud: LabCloud, board: Dashboard) -> None:
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    view = board.messages
    assert 0 < len(view.messages) <= view.limit == 50
    build = view.pin("build_and_run_instance")
    assert build["args"]["instance"]["uuid"] == uuid
    assert build["exchange"] == "nova"
    assert build["routing_key"].startswith("compute.")
    assert view.pinned["id"] == build["id"]
    with pytest.raises(LookupError):
        view.pin("no_such_method")
    flow.close()


def test_the_stepper_controls_break_show_and_continue(cloud: LabCloud, board: Dashboard) -> None:
    controls = board.stepper
    controls.command = {"op": "break", "value": "method select_destinations", "seq": 1}
    assert controls.breakpoints == ["method select_destinations"]
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    cloud.stepper.wait_paused()
    board.flush()
    (paused,) = controls.paused
    assert paused["service"] == "nova-scheduler"
    assert paused["detail"]["method"] == "select_destinations"
    assert board.flow.paused.startswith("paused at method select_destinations")
    controls.command = {"op": "continue", "seq": 2}
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    assert controls.paused == []
    assert board.flow.paused == ""
    controls.command = {"op": "break", "value": "nonsense here", "seq": 3}
    assert "not a breakpoint" in controls.error
    controls.command = {"op": "clear", "seq": 4}
    assert controls.breakpoints == []
    assert controls.error == ""
    flow.close()


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("9", {"step": 9}),
        ("step 22", {"step": 22}),
        ("method select_destinations", {"method": "select_destinations"}),
        ("route POST /v2.0/ports", {"route": "POST /v2.0/ports"}),
        ("queue compute.compute1", {"queue": "compute.compute1"}),
    ],
)
def test_breakpoints_typed_in_the_controls(text: str, parsed: dict[str, object]) -> None:
    assert _parse(text) == parsed


def test_views_stay_bounded_under_a_storm(cloud: LabCloud, board: Dashboard) -> None:
    """5,000 messages: the inspector keeps 50, the publisher's buffer is bounded."""
    from labcloud.messaging import RPCClient, RPCServer, Target

    class Sink:
        def noop(self, ctxt: object) -> None:
            return None

    with RPCServer(cloud.transport, Target("storm", "sink", server="s1"), [Sink()]):
        client = RPCClient(cloud.transport, Target("storm", "sink"))
        for _ in range(5000):
            client.cast({}, "noop")
        client.call({}, "noop")
    board.flush()
    assert len(board.messages.messages) == 50
    assert board.publisher.dropped == 0  # 20,000 fit between two flushes
