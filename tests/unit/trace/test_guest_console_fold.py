"""The fold that puts a guest's console line under step 28 (trace.flow.guest_console)."""

from __future__ import annotations

from labcloud.trace.events import ConsoleEvent, StateEvent, StepEvent
from labcloud.trace.flow import boot_events, guest_console, state_table

U = "11111111-2222-3333-4444-555555555555"


def step(n: int, t: float) -> StepEvent:
    return StepEvent(step=n, service="nova-compute", what="", instance_uuid=U, time=t)


def console(line: str, t: float, seen: bool = True, uuid: str = U) -> ConsoleEvent:
    return ConsoleEvent(instance_uuid=uuid, line=line, marker="ready", seen=seen, time=t)


def test_the_line_after_the_latest_spawn_with_its_time_after_step_28() -> None:
    events = [
        step(28, 10.0),
        console("old: ready", 12.0),  # the first attempt's guest (a reschedule followed)
        step(28, 20.0),
        StateEvent(resource="instance", id=U, status="ACTIVE", time=20.5),
        console("ready", 26.25),
        console("other: ready", 27.0, uuid="another"),
    ]
    mine = boot_events(events, U)
    line = guest_console(mine)
    assert line is not None
    assert (line.line, line.seen, line.time, line.after_spawn) == ("ready", True, 26.25, 6.25)
    assert str(line) == "guest console: ready (+6.2 s after step 28)"
    assert [r.steps for r in state_table(mine)] == [[28, 28]]  # a console line is no step


def test_none_before_a_line_and_a_deadline_says_so() -> None:
    assert guest_console([step(28, 1.0)]) is None
    assert guest_console([console("ready", 2.0)]) is None  # no spawn of this boot seen
    late = guest_console([step(28, 1.0), console("", 121.0, seen=False)])
    assert late is not None
    assert str(late) == "guest console: no boot line in time (last: none) (+120.0 s after step 28)"
