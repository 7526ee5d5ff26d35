"""Stepping services in other processes: commands on the ``labcloud.control`` exchange.

A process running services starts a :class:`StepperService` next to its stepper (and a
TraceForwarder, so its pauses reach the ``labcloud.trace`` exchange). A notebook or the
``labcloud debug`` CLI holds a :class:`RemoteStepper`: the same calls as a local stepper
(``break_on``, ``wait_paused``, ``resume``, ``step``, ``run_to``, ``clear``), sent as JSON
commands to every process at once (a fanout), with what is paused learnt from the trace.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labcloud.messaging.driver import Delivery, Driver
from labcloud.messaging.topology import ExchangeSpec, QueueSpec, Subscription
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import PauseEvent, StepperEvent
from labcloud.trace.stepper import Stepper

LOG = logging.getLogger(__name__)
CONTROL_EXCHANGE = ExchangeSpec("labcloud.control", "fanout")
OPS = {"break", "remove", "clear", "resume", "step", "run_to", "report"}


class StepperService:
    """Obey control commands with a local stepper; announce its state after each one."""

    def __init__(self, driver: Driver, stepper: Stepper) -> None:
        self.stepper = stepper
        queue = QueueSpec(f"labcloud.control_{uuid.uuid4().hex}", auto_delete=True)
        self._consumer = driver.consume(
            [Subscription(queue, [(CONTROL_EXCHANGE, "")])], self._on_command, name="control"
        )

    def _on_command(self, delivery: Delivery) -> None:
        delivery.ack()
        try:
            command = json.loads(delivery.body)
            self.apply(str(command["op"]), dict(command.get("args") or {}))
        except (ValueError, KeyError, TypeError) as exc:
            LOG.warning("ignored a bad stepper command %r: %s", delivery.body[:200], exc)

    def apply(self, op: str, args: dict[str, Any]) -> None:
        s = self.stepper
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        if op == "break":
            s.break_on(**args)
        elif op == "remove":
            for bp in s.breakpoints:
                if str(bp) == args.get("breakpoint"):
                    s.remove(bp)
        elif op == "clear":
            s.clear()
        elif op == "resume":
            s.resume(args.get("pause_id"))
        elif op == "step":
            s.step()
        elif op == "run_to":
            s.run_to(**args)
        s.bus.emit(s.state())  # "report" does only this

    def stop(self) -> None:
        self._consumer.stop()


@dataclass(frozen=True)
class RemotePause:
    id: str
    breakpoint: str
    what: str
    service: str
    thread: str
    detail: dict[str, Any]
    process: str = ""


class RemoteStepper:
    """A stepper for services elsewhere; ``bus`` must receive their trace (a TraceWatcher)."""

    def __init__(self, driver: Driver, bus: TraceBus) -> None:
        self._driver = driver
        self._cond = threading.Condition(threading.RLock())
        self._states: dict[str, StepperEvent] = {}  # process -> its latest state
        self._paused: dict[str, RemotePause] = {}
        self._sub = bus.subscribe(self._on_event, types=(PauseEvent, StepperEvent))
        self._send("report")

    def _on_event(self, event: PauseEvent | StepperEvent) -> None:
        with self._cond:
            if isinstance(event, StepperEvent):
                self._states[event.process] = event
                self._paused = {k: v for k, v in self._paused.items() if v.process != event.process}
                for p in event.paused:
                    self._paused[p["id"]] = RemotePause(**p, process=event.process)
            elif event.event == "paused":
                self._paused[event.pause_id] = RemotePause(
                    event.pause_id,
                    event.breakpoint,
                    event.what,
                    event.service,
                    event.thread,
                    event.detail or {},
                    event.process,
                )
            else:
                self._paused.pop(event.pause_id, None)
            self._cond.notify_all()

    def _send(self, op: str, **args: Any) -> None:
        body = json.dumps({"op": op, "args": args}).encode()
        self._driver.publish(CONTROL_EXCHANGE, "", body, timeout=10.0)

    # -- the Stepper API ------------------------------------------------------------------
    def break_on(self, **where: Any) -> str:
        self._send("break", **{k: v for k, v in where.items() if v is not None})
        return ", ".join(f"{k} {v}" for k, v in where.items() if v is not None)

    def remove(self, breakpoint: object) -> None:
        self._send("remove", breakpoint=str(breakpoint))

    def clear(self) -> None:
        self._send("clear")

    def resume(self, pause: RemotePause | str | None = None) -> None:
        pause_id = pause.id if isinstance(pause, RemotePause) else pause
        self._send("resume", pause_id=pause_id)

    def step(self) -> None:
        self._send("step")

    def run_to(self, *, step: int | None = None, method: str | None = None) -> str:
        self._send("run_to", **({"step": step} if step is not None else {"method": method}))
        return f"step {step}" if step is not None else f"method {method}"

    def report(self) -> None:
        """Ask every process for its breakpoints and paused threads."""
        self._send("report")

    @property
    def breakpoints(self) -> list[str]:
        with self._cond:
            return sorted({b for s in self._states.values() for b in s.breakpoints})

    @property
    def paused(self) -> Sequence[RemotePause]:
        with self._cond:
            return list(self._paused.values())

    @property
    def processes(self) -> dict[str, StepperEvent]:
        with self._cond:
            return dict(self._states)

    def wait_paused(self, timeout: float = 30.0) -> RemotePause:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._paused), timeout):
                raise TimeoutError(f"nothing paused within {timeout} s")
            return next(iter(self._paused.values()))

    def wait_for_breakpoint(self, text: str, timeout: float = 10.0) -> None:
        """Wait until some process reports the breakpoint ``text`` (e.g. ``"step 9"``) set."""
        self.report()
        with self._cond:
            if not self._cond.wait_for(lambda: text in self.breakpoints, timeout):
                raise TimeoutError(f"no process has breakpoint {text!r} after {timeout} s")

    def wait_for_processes(self, n: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``n`` processes have answered a report."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._states) >= n, timeout):
                raise TimeoutError(f"{len(self._states)} of {n} processes answered in {timeout} s")

    def close(self) -> None:
        self._sub.close()
