"""Breakpoints on the cloud's flow: stop a service thread at a seed step, an RPC method, a
queue, a service or an HTTP route, look at what it is about to do, and let it go on.

This replaces the seed's Eclipse + ``pydevd.settrace()`` workflow. The stepper is a gate on
the trace bus (:meth:`TraceBus.add_gate`): every event (a message published or delivered,
an HTTP answer, a seed step, a state change) passes it in the thread that emitted it, after
the widgets have seen it. When the event matches a breakpoint, that thread waits until it
is released. Only service threads ever wait: the notebook's own thread (the main thread) is
never held, so cells keep running while a service is paused.

    stepper.break_on(step=9)                # before the scheduler filters hosts
    stepper.break_on(method="build_and_run_instance")
    pause = stepper.wait_paused(timeout=30)  # from a cell or a test
    pause.detail["args"]                    # the decoded message it is about to handle
    stepper.step()                          # go on, stop again at the very next event
    stepper.resume()                        # go on (every paused thread)
    stepper.clear()                         # no breakpoints, nothing paused

A pause ends by itself after ``pause_timeout`` seconds (a forgotten breakpoint does not hang
a workshop); the event says ``timed-out``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labcloud.trace.bus import TraceBus
from labcloud.trace.events import (
    ConsoleEvent,
    HttpEvent,
    MessageEvent,
    PauseEvent,
    StateEvent,
    StepEvent,
    StepperEvent,
)

LOG = logging.getLogger(__name__)
PAUSE_TIMEOUT = 600.0  # seconds before a forgotten pause lets its thread go


@dataclass(frozen=True)
class Breakpoint:
    """Where to stop; the fields given must all match (``None`` matches anything).

    ``step``: a seed step (1–28). ``method``: an RPC method, stopping where a server takes
    the message (before it runs). ``queue``: a queue, at delivery. ``service``: any event
    of that service (``nova-scheduler``). ``route``: an HTTP request, ``"POST /v2.0/ports"``
    or a path part (``"/v2.0/ports"``), stopping the caller when the answer arrives.
    ``once``: the breakpoint goes away after its first hit (``run_to``).
    """

    step: int | None = None
    method: str | None = None
    queue: str | None = None
    service: str | None = None
    route: str | None = None
    once: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if all(v is None for v in (self.step, self.method, self.queue, self.service, self.route)):
            raise ValueError("a breakpoint needs a step, method, queue, service or route")

    def matches(self, event: Any) -> bool:
        if self.step is not None and not (isinstance(event, StepEvent) and event.step == self.step):
            return False
        if self.method is not None or self.queue is not None:
            if not (isinstance(event, MessageEvent) and event.event == "deliver"):
                return False
            if self.method is not None and event.method != self.method:
                return False
            if self.queue is not None and event.queue != self.queue:
                return False
        if self.service is not None and service_of(event) != self.service:
            return False
        return self.route is None or (
            isinstance(event, HttpEvent) and route_matches(self.route, event)
        )

    def __str__(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("step", self.step),
                ("method", self.method),
                ("queue", self.queue),
                ("service", self.service),
                ("route", self.route),
            )
            if value is not None
        ]
        return ", ".join(parts)


def service_of(event: Any) -> str:
    if isinstance(event, HttpEvent):
        return event.source
    return str(getattr(event, "service", "") or "")


def route_matches(route: str, event: HttpEvent) -> bool:
    method, _, path = route.partition(" ") if " " in route else ("", "", route)
    return (not method or event.method == method.upper()) and path in event.url


def describe(event: Any) -> str:
    """One line saying what an event is about to do or did, for people."""
    if isinstance(event, StepEvent):
        return f"step {event.step}: {event.service} {event.what}"
    if isinstance(event, MessageEvent):
        where = event.queue or f"{event.exchange}/{event.routing_key}"
        return f"{event.service or '?'} {event.event} {event.kind} {event.method or ''} ({where})"
    if isinstance(event, HttpEvent):
        return f"{event.source} → {event.target}: {event.method} {event.url} → {event.status}"
    if isinstance(event, StateEvent):
        return f"{event.resource} {event.id[:8]} is {event.status} ({event.task_state})"
    return type(event).__name__


def pause_dict(p: Any) -> dict[str, Any]:
    """A paused thread as plain data (for widgets and the control exchange); ``p`` is a
    Pause, or a RemotePause from another process."""
    return {
        "id": p.id,
        "breakpoint": p.breakpoint,
        "what": p.what,
        "service": p.service,
        "thread": p.thread,
        "detail": p.detail,
    }


@dataclass
class Pause:
    """A thread held at a breakpoint: what it stopped on, and a way to let it go."""

    id: str
    event: Any
    breakpoint: str
    thread: str
    service: str
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def what(self) -> str:
        return describe(self.event)

    @property
    def detail(self) -> dict[str, Any]:
        """The stopped event as a dict (a message's decoded ``args``, a step's instance ...)."""
        to_dict: Callable[[], dict[str, Any]] | None = getattr(self.event, "to_dict", None)
        return to_dict() if to_dict is not None else {}


class Stepper:
    def __init__(
        self,
        bus: TraceBus,
        *,
        pause_timeout: float = PAUSE_TIMEOUT,
        host: str = "",
        process: str = "",
    ) -> None:
        self.bus = bus
        self.pause_timeout = pause_timeout
        self.host, self.process = host, process
        self._cond = threading.Condition()
        self._breakpoints: list[Breakpoint] = []
        self._paused: dict[str, Pause] = {}
        self._step_next = False
        self._ids = itertools.count(1)
        self._installed = False
        self._listeners: list[Callable[[], None]] = []  # told when breakpoints change

    # -- breakpoints ---------------------------------------------------------------------
    def break_on(
        self,
        *,
        step: int | None = None,
        method: str | None = None,
        queue: str | None = None,
        service: str | None = None,
        route: str | None = None,
        once: bool = False,
    ) -> Breakpoint:
        """Add a breakpoint (see :class:`Breakpoint`) and return it."""
        bp = Breakpoint(step, method, queue, service, route, once)
        with self._cond:
            self._breakpoints.append(bp)
        self._install()
        self._changed()
        return bp

    def remove(self, bp: Breakpoint) -> None:
        with self._cond:
            if bp in self._breakpoints:
                self._breakpoints.remove(bp)
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after each breakpoint is added or removed (a widget showing
        them learns of it without asking)."""
        with self._cond:
            self._listeners.append(listener)

    def _changed(self) -> None:
        with self._cond:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @property
    def breakpoints(self) -> list[Breakpoint]:
        with self._cond:
            return list(self._breakpoints)

    def clear(self) -> None:
        """Remove every breakpoint and let every paused thread go."""
        with self._cond:
            self._breakpoints.clear()
            self._step_next = False
        self._changed()
        self.resume()

    # -- paused threads ------------------------------------------------------------------
    @property
    def paused(self) -> list[Pause]:
        with self._cond:
            return list(self._paused.values())

    def wait_paused(self, timeout: float = 30.0) -> Pause:
        """The oldest paused thread, waiting up to ``timeout`` seconds for one to stop."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._paused), timeout):
                wanted = ", ".join(str(b) for b in self._breakpoints) or "no breakpoints"
                raise TimeoutError(f"nothing paused within {timeout} s ({wanted})")
            return next(iter(self._paused.values()))

    def resume(self, pause: Pause | str | None = None) -> None:
        """Let one paused thread go (a Pause or its id), or all of them."""
        with self._cond:
            if pause is None:
                chosen = list(self._paused.values())
            else:
                key = pause if isinstance(pause, str) else pause.id
                chosen = [self._paused[key]] if key in self._paused else []
            for p in chosen:
                del self._paused[p.id]
                p.released.set()
            self._cond.notify_all()

    def step(self) -> None:
        """Go on, and stop again at the next event any service thread emits."""
        with self._cond:
            self._step_next = True
        self._install()
        self.resume()

    def run_to(self, *, step: int | None = None, method: str | None = None) -> Breakpoint:
        """Go on until ``step`` (or ``method``) is reached, once."""
        bp = self.break_on(step=step, method=method, once=True)
        self.resume()
        return bp

    # -- the gate ------------------------------------------------------------------------
    def _install(self) -> None:
        if not self._installed:
            self._installed = True
            self.bus.add_gate(self._gate)

    def close(self) -> None:
        """Stop stepping: no breakpoints, nothing paused, no gate on the bus."""
        self.clear()
        if self._installed:
            self.bus.remove_gate(self._gate)
            self._installed = False

    def _gate(self, event: Any) -> None:
        # the stepper's own events, and labcloud's console watch (an observer, not the cloud
        # at work: holding it would hold up no service, only the end of its thread)
        if isinstance(event, PauseEvent | StepperEvent | ConsoleEvent):
            return
        if threading.current_thread() is threading.main_thread():
            return
        with self._cond:
            hit = self._hit(event)
            if hit is None:
                return
            pause = Pause(
                id=f"{self.process or 'p'}-{next(self._ids)}",
                event=event,
                breakpoint=hit,
                thread=threading.current_thread().name,
                service=service_of(event),
            )
            self._paused[pause.id] = pause
            self._cond.notify_all()
        self._announce("paused", pause)
        if not pause.released.wait(self.pause_timeout):
            LOG.warning(
                "a pause at %s ended after %s s with nobody resuming it", hit, self.pause_timeout
            )
            with self._cond:
                self._paused.pop(pause.id, None)
            self._announce("timed-out", pause)
            return
        self._announce("resumed", pause)

    def _hit(self, event: Any) -> str | None:
        """Which breakpoint the event hits (called with the lock held)."""
        if self._step_next:
            self._step_next = False
            return "step"
        for bp in self._breakpoints:
            if bp.matches(event):
                if bp.once:
                    self._breakpoints.remove(bp)
                return str(bp)
        return None

    def state(self) -> StepperEvent:
        """This stepper as an event (what a remote ``labcloud debug list`` shows)."""
        return StepperEvent(
            breakpoints=[str(b) for b in self.breakpoints],
            paused=[pause_dict(p) for p in self.paused],
            host=self.host,
            process=self.process,
        )

    def _announce(self, what: str, pause: Pause) -> None:
        self.bus.emit(
            PauseEvent(
                event=what,
                pause_id=pause.id,
                breakpoint=pause.breakpoint,
                what=pause.what,
                thread=pause.thread,
                service=pause.service,
                detail=pause.detail,
                host=self.host,
                process=self.process,
            )
        )


def parse_breakpoint(text: str) -> dict[str, Any]:
    """``9`` or ``step 9`` → a step; ``method x``, ``queue q``, ``service s``, ``route r``."""
    text = text.strip()
    if text.isdigit():
        return {"step": int(text)}
    kind, _, value = text.partition(" ")
    if kind == "step" and value.strip().isdigit():
        return {"step": int(value)}
    if kind in ("method", "queue", "service", "route") and value.strip():
        return {kind: value.strip()}
    raise ValueError(
        f"not a breakpoint: {text!r} (try 9, method select_destinations, queue compute, "
        "service nova-compute, route POST /v2.0/ports)"
    )
