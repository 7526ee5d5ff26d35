"""Stepper.on_change: who shows the breakpoints hears of each change, wherever it was made."""

from __future__ import annotations

from labcloud.trace.bus import TraceBus
from labcloud.trace.stepper import Stepper


def test_adding_removing_and_clearing_breakpoints_tells_the_listeners() -> None:
    stepper = Stepper(TraceBus())
    told: list[int] = []
    stepper.on_change(lambda: told.append(len(stepper.breakpoints)))
    bp = stepper.break_on(step=9)
    stepper.break_on(method="build_and_run_instance")
    stepper.remove(bp)
    stepper.clear()
    assert told == [1, 2, 1, 0]
    stepper.close()
