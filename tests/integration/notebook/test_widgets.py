"""Widget state, without a browser: a real in-process cloud boots, the views follow."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from labcloud.cloud import LabCloud
from labcloud.notebook import Dashboard, watch
from labcloud.notebook import broker as broker_module
from labcloud.notebook.broker import edge_id, node_id
from labcloud.notebook.brokergraph import DEFAULT as REPLY
from labcloud.notebook.flow import LABELS
from labcloud.notebook.stepper import _parse
from labcloud.spec import CloudSpec, HostSpec
from labcloud.trace.flow import STEPS, FlowRecorder
from tests.integration.cloud.test_boot_flow import (
    SEED_TABLE,
    Client,
    in_seed_order,
    make_volume,
)


@pytest.fixture
def cloud() -> Iterator[LabCloud]:
    with LabCloud(CloudSpec.demo()) as c:
        yield c


@pytest.fixture
def board(cloud: LabCloud) -> Dashboard:
    return watch(cloud)


def test_the_flow_view_draws_the_seeds_table_for_a_boot(cloud: LabCloud, board: Dashboard) -> None:
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    view = board.flow
    assert view.instance == uuid
    assert in_seed_order(view.done) == [*range(1, 25), 28]
    assert view.cached == [20, 23]  # nova-compute found the token in glance's and neutron's caches
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
    # every arrow has its words, and its full sentence for the tooltip
    assert [(s["label"], s["what"]) for s in view.steps] == [
        (LABELS[n], what) for n, (_, what) in STEPS.items()
    ]
    assert all(0 < len(s["label"]) <= 22 for s in view.steps)
    assert view.attempt == 1
    assert {r["attempt"] for r in view.rows} == {1}
    assert all(r["detail"] == "" for r in view.rows)  # no volume asked for
    # un-numbered, after step 28: neutron's word that the port is up, which the build awaited
    assert view.external == ["network-vif-plugged (received)"]
    # each step's tooltip also says where it last happened: nova-compute on its own host
    (spawn,) = [s for s in flow.steps_of(uuid) if s.step == 28]
    assert spawn.host in {"compute1", "compute2"}
    assert view.places["28"] == f"nova-compute on {spawn.host} ({cloud.origin.process})"
    flow.close()


def test_the_flow_view_keeps_the_furthest_step_through_token_checks(
    cloud: LabCloud, board: Dashboard
) -> None:
    """nova-api's early token checks by glance and neutron (20, 23 before step 6) and a
    later check on the same request never move the highlight off the furthest step."""
    cloud.stepper.break_on(step=9)
    boot = cloud.boot("vm1")
    cloud.stepper.wait_paused()
    board.flush()
    assert 23 in board.flow.done  # neutron-server checked the token for nova-api ...
    assert board.flow.current == 9  # ... but the boot is at step 9
    cloud.stepper.clear()
    boot.wait("ACTIVE")
    board.flush()
    assert board.flow.current == 28


def test_a_login_that_boots_nothing_leaves_the_view_on_its_boot(
    cloud: LabCloud, board: Dashboard
) -> None:
    """A login for a GET after the boot (lab 06 lists servers) is not a boot to follow."""
    cloud.boot("vm1").wait("ACTIVE")
    cloud.login("demo")
    board.flush()
    assert board.flow.current == 28
    assert any(r["status"] == "ACTIVE" for r in board.flow.rows)


def test_a_reschedule_is_drawn_as_a_second_attempt_with_its_own_rows() -> None:
    spec = CloudSpec.demo().but(
        hosts=(HostSpec("compute1"), HostSpec("compute2"), HostSpec("compute3", ram_mb=8192))
    )
    with LabCloud(spec) as cloud:
        board = watch(cloud)
        cloud.compute_driver("compute1").fail_next_spawns(1)  # type: ignore[attr-defined]
        boot = cloud.boot("vm1")
        boot.wait("ACTIVE")
        board.flush()
        view = board.flow
        assert view.attempt == 2
        assert view.current == 28
        rows = [(r["attempt"], r["status"], r["task"]) for r in view.rows]
        assert rows == [
            (1, "BUILD", "scheduling"),
            (1, "BUILD", "networking"),
            (1, "BUILD", "block_device_mapping"),
            (1, "BUILD", "spawning"),
            (2, "BUILD", "scheduling"),
            (2, "BUILD", "networking"),
            (2, "BUILD", "block_device_mapping"),
            (2, "BUILD", "spawning"),
            (2, "ACTIVE", None),
        ]
        spawning = [r["steps"] for r in view.rows if r["task"] == "spawning"]
        assert [s[0] for s in spawning] == [28, 28]  # each attempt spawned once
        assert spawning[1] == [28]  # the second attempt's row holds its own steps only
        second = next(r for r in view.rows if r["attempt"] == 2)
        assert second["steps"][:4] == [9, 10, 11, 12]  # scheduled again


def test_the_block_device_mapping_row_shows_the_volume(cloud: LabCloud, board: Dashboard) -> None:
    volume = make_volume(cloud, Client(cloud))
    boot = cloud.boot("vm1", volumes=(volume,))
    boot.wait("ACTIVE")
    board.flush()
    rows = {r["task"]: r for r in board.flow.rows}
    steps = rows["block_device_mapping"]["steps"]
    assert (steps[0], set(steps[1:-1]), steps[-1]) == (25, {26}, 27)  # cinder checks each call
    assert rows["block_device_mapping"]["detail"] == f"volume {volume[:8]} (in-use)"
    assert rows["networking"]["detail"] == ""


def test_closing_the_board_brings_every_view_up_to_date(
    cloud: LabCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last state reaches the views when the cloud stops: a publisher that would flush
    only every 1000 s and a broker view that would read the broker only every 1000 s still
    show the finished boot and a queue declared just before the end."""
    from labcloud.messaging import RPCServer, Target

    monkeypatch.setattr(broker_module, "SNAPSHOT_EVERY", 1000.0)
    board = watch(cloud, rate=0.001)
    boot = cloud.boot("vm1")
    boot.wait("ACTIVE")
    with RPCServer(cloud.transport, Target("late", "latecomer", server="s1"), [object()]):
        assert board.flow.current < 28  # nothing flushed yet
        assert 'id="q:latecomer"' not in board.broker.svg
        board.close()
    assert board.flow.current == 28
    assert board.flow.rows[-1]["status"] == "ACTIVE"
    assert f'id="{node_id("q", "latecomer")}"' in board.broker.svg


def test_the_flow_view_draws_a_second_boots_validations_as_cached(
    cloud: LabCloud, board: Dashboard
) -> None:
    client = Client(cloud)
    first = cloud.boot("vm1", token=client.token)
    first.wait("ACTIVE")
    board.flush()
    assert board.flow.instance == first.server_id
    assert 4 not in board.flow.cached
    assert 5 in board.flow.done
    second = cloud.boot("vm2", token=client.token)
    second.wait("ACTIVE")
    board.flush()
    view = board.flow
    assert view.instance == second.server_id
    assert view.cached == [4, 20, 23]
    assert 5 not in view.done  # keystone was not asked
    assert view.done[:2] == [3, 4]  # no login either: the token was used again


def test_the_flow_view_shows_a_boot_held_before_its_instance_exists(
    cloud: LabCloud, board: Dashboard
) -> None:
    cloud.stepper.break_on(step=4)
    boot = cloud.boot("vm1")
    cloud.stepper.wait_paused()
    board.flush()
    view = board.flow
    assert (view.instance, view.done, view.current) == ("", [1, 2, 3, 4], 4)
    assert view.paused.startswith("paused at step 4")
    cloud.stepper.clear()
    boot.wait("ACTIVE")
    board.flush()
    assert view.instance == boot.server_id
    assert view.done[:5] == [1, 2, 3, 4, 5]


def test_the_broker_view_lays_out_once_per_topology_and_counts_live(
    cloud: LabCloud, board: Dashboard
) -> None:
    view = board.broker
    # the services' own periodic messages may add a link (a new layout) at any time, so the
    # test counts layouts around reads of an unchanged broker, never from an absolute number
    assert view.layouts >= 1
    board.flush()
    view.refresh()
    settled = view.layouts
    view.refresh()
    assert view.layouts == settled  # read again, nothing changed: no new layout
    svg = view.svg
    for queue in ("conductor", "scheduler", "compute.compute1", "compute.compute2"):
        assert f'id="{node_id("q", queue)}"' in svg, queue
    assert f'id="{edge_id("nova", "compute.compute1")}"' in svg
    assert f'id="{node_id("x", "nova")}"' in svg
    flow = FlowRecorder(cloud.bus)
    client = Client(cloud)
    hosts = set()
    for name in ("vm1", "vm2"):  # the RAM weigher spreads them: each host's services seen
        uuid = client.boot(name)
        flow.wait_for_state(uuid, "ACTIVE")
        hosts.add(client.server(uuid)["OS-EXT-SRV-ATTR:host"])
    assert hosts == {"compute1", "compute2"}
    board.flush()
    view.refresh()  # the services seen during the boots are on the graph now
    # the same flow again draws no new layout, only counts; an agent's periodic report may
    # still add a link of its own during one boot (a real change), so a few boots are allowed
    for n in range(3, 8):
        layouts = view.layouts
        again = client.boot(f"vm{n}")
        flow.wait_for_state(again, "ACTIVE")
        board.flush()
        view.refresh()
        if view.layouts == layouts:
            break
    else:
        raise AssertionError("every boot laid the broker graph out again")
    assert view.depths[node_id("q", "conductor")] == 0
    assert view.consumers[node_id("q", "conductor")] == 1
    assert view.rates[node_id("q", "conductor")] > 0
    flow.close()


def test_the_broker_view_draws_the_services_with_the_seeds_roles(
    cloud: LabCloud, board: Dashboard
) -> None:
    view = board.broker
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    view.refresh()
    svg = html.unescape(view.svg)  # graphviz writes "-" in an id as "&#45;"
    for service in ("nova-api", "nova-conductor", "nova-scheduler", "nova-compute"):
        assert f'id="{node_id("s", service)}"' in svg, service
    # nova-api invokes (a Topic Publisher to exchange nova); the scheduler works (a Topic
    # Consumer of its queue) and answers the call (a Direct Publisher to the default exchange)
    edges = {
        "p:nova-api|nova": "Topic Publisher",
        "c:scheduler|nova-scheduler": "Topic Consumer",
        f"p:nova-scheduler|{REPLY}": "Direct Publisher",
        "c:compute.compute1|nova-compute": "Topic Consumer",
    }
    for edge, role in edges.items():
        start = svg.index(f'id="{edge}"')
        assert role in svg[start : svg.index("</g>", start)], edge
    assert "Invoker" in svg
    assert "Worker" in svg
    # reply queues and the default exchange are drawn, with the reply's Direct Consumer
    reply = next(q for q in view.depths if q.startswith("q:reply_"))
    assert f'id="{node_id("x", "")}"' in svg
    assert f'id="{edge_id("", reply[2:])}"' in svg
    assert "Direct Consumer" in svg
    assert "_fanout_" not in view.svg  # hidden at first ...
    assert f'id="{node_id("s", "nova-api")}"' in html.unescape(view.svg)
    view.hide_fanout = False  # ... shown when the filter is off
    board.flush()
    assert f'id="{node_id("q", "scheduler")}"' in view.svg
    assert "_fanout_" in view.svg
    assert f'id="{node_id("q", "scheduler")}"' in view.svg
    flow.close()


def test_a_message_lights_up_its_path_with_its_method(cloud: LabCloud, board: Dashboard) -> None:
    from labcloud.messaging import RPCClient, RPCServer, Target

    class Echo:
        def echo(self, ctxt: object, text: str) -> str:
            return text

    seen: list[dict[str, str]] = []  # every batch's pulses (the publisher thread flushes too)
    board.broker.observe(lambda change: seen.extend(change["new"]), names="pulses")
    with RPCServer(cloud.transport, Target("lab", "echo", server="h1"), [Echo()], service="echo"):
        RPCClient(cloud.transport, Target("lab", "echo"), service="caller").call(
            {}, "echo", text="hi"
        )
        board.flush()
    lit = {p["id"]: p["method"] for p in seen}
    assert lit["p:caller|lab"] == "echo"
    assert lit[edge_id("lab", "echo")] == "echo"
    assert lit["c:echo|echo"] == "echo"
    assert lit[f"p:echo|{REPLY}"] == "(reply)"


def test_the_inspector_keeps_the_last_messages_decoded(cloud: LabCloud, board: Dashboard) -> None:
    flow = FlowRecorder(cloud.bus)
    uuid = Client(cloud).boot()
    flow.wait_for_state(uuid, "ACTIVE")
    board.flush()
    view = board.messages
    assert 0 < len(view.messages) <= view.limit == 500
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
    """5,000 messages: the inspector keeps 500 (its view pages them), the publisher's buffer
    is bounded."""
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
    assert len(board.messages.messages) == board.messages.limit == 500
    assert board.publisher.dropped == 0  # 20,000 fit between two flushes


def test_the_network_view_of_a_cloud_without_a_datapath_says_why_and_draws_nothing(
    cloud: LabCloud, board: Dashboard
) -> None:
    """The no-op datapath builds nothing: the view says so instead of drawing a network
    (tests/system/test_topology.py draws a real one, as root)."""
    view = board.topology
    assert view is not None
    assert cloud.datapath == "noop"
    assert view.error.startswith("Nothing to draw: ")
    assert "no-op datapath" in view.error
    cloud.boot("vm1").wait("ACTIVE")
    board.flush()
    view.refresh()
    assert (view.svg, view.layouts, view.states) == ("", 0, {})
    tabs = board.widget().children[1]
    assert [tabs.get_title(i) for i in range(len(tabs.children))][-1] == "Network"
