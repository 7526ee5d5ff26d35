"""A small publish/subscribe bus for trace events, delivered in the emitting thread.

Emitters check :meth:`TraceBus.wants` (or :attr:`TraceBus.active`) before building an
event, so tracing costs a look at the subscribers when nobody listens for that kind of
event: a subscriber that names its event ``types`` (a boot waiting for StateEvents) does not
make every RPC message build a MessageEvent. Subscribers must be quick; a slow consumer (a widget)
should copy events into its own bounded buffer and work on them from another thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from labcloud.trace.events import Origin

LOG = logging.getLogger(__name__)

Callback = Callable[[Any], None]
Predicate = Callable[[Any], bool]


class Subscription:
    """A handle returned by :meth:`TraceBus.subscribe`; ``close()`` stops delivery."""

    def __init__(
        self,
        bus: TraceBus,
        callback: Callback,
        where: Predicate | None,
        types: tuple[type, ...] | None = None,
    ) -> None:
        self._bus = bus
        self.callback = callback
        self.where = where
        self.types = types

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TraceBus:
    """Fan events out to subscribers; a failing subscriber is logged, never propagated.

    ``origin``: the process whose services emit on this bus (a binary's, or the in-kernel
    cloud's), set by whoever builds the bus; an emitter that has no host of its own takes
    the host and process from it (``flow_step``). None: a bus that only re-emits events
    made elsewhere (a notebook watching other processes).
    """

    def __init__(self, origin: Origin | None = None) -> None:
        self.origin = origin
        self._lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()
        self._gates: tuple[Callback, ...] = ()
        # wants(): its answers by kinds, for the subscribers and gates of now; a new dict
        # (not a cleared one) each time they change, so an answer worked out for the old
        # ones while they changed goes into a dict no one reads any more
        self._wanted: dict[tuple[type, ...], bool] = {}

    @property
    def active(self) -> bool:
        """True when at least one subscriber listens (emitters skip work otherwise)."""
        return bool(self._subs or self._gates)

    def wants(self, *kinds: type) -> bool:
        """True when someone listens for events of one of ``kinds``: a gate (it sees every
        event), a subscriber without ``types``, or one whose ``types`` include it."""
        wanted = self._wanted  # first: read before the subscribers it answers for
        answer = wanted.get(kinds)
        if answer is not None:
            return answer  # asked for every message: one look-up, until subscribers change
        subs, gates = self._subs, self._gates
        answer = bool(gates) or any(
            sub.types is None or any(issubclass(k, sub.types) for k in kinds) for sub in subs
        )
        wanted[kinds] = answer
        return answer

    def _changed(self, subs: tuple[Subscription, ...], gates: tuple[Callback, ...]) -> None:
        """Take new subscribers and gates (under the lock); wants() answers anew."""
        self._subs, self._gates = subs, gates
        self._wanted = {}  # after them: an answer for the new ones lands in the new dict

    def add_gate(self, gate: Callback) -> None:
        """Run ``gate(event)`` in the emitting thread after every subscriber saw the event.

        The stepper is a gate: it may hold the emitting thread (a paused service) once
        widgets and logs already show what it stopped on.
        """
        with self._lock:
            self._changed(self._subs, (*self._gates, gate))

    def remove_gate(self, gate: Callback) -> None:
        with self._lock:
            self._changed(self._subs, tuple(g for g in self._gates if g is not gate))

    def subscribe(
        self,
        callback: Callback,
        *,
        where: Predicate | None = None,
        types: tuple[type, ...] | None = None,
    ) -> Subscription:
        """Deliver events to ``callback``: only those of ``types`` (any, if None) for which
        ``where`` holds. Naming ``types`` lets emitters of other events skip building them."""
        sub = Subscription(self, callback, where, types)
        with self._lock:
            self._changed((*self._subs, sub), self._gates)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._changed(tuple(s for s in self._subs if s is not sub), self._gates)

    def emit(self, event: Any) -> None:
        for sub in self._subs:  # a tuple snapshot: subscribing while emitting is safe
            if sub.types is not None and not isinstance(event, sub.types):
                continue
            if sub.where is not None and not sub.where(event):
                continue
            try:
                sub.callback(event)
            except Exception:
                LOG.exception("trace subscriber %r failed", sub.callback)
        for gate in self._gates:
            gate(event)

    def collect(
        self,
        where: Predicate | None = None,
        *,
        maxlen: int | None = None,
        types: tuple[type, ...] | None = None,
    ) -> EventLog:
        """Subscribe a list that records events (for tests and notebooks); with ``maxlen``
        it keeps only the latest events (and counts the ones it let go in ``dropped``)."""
        log = EventLog(maxlen)
        log.subscription = self.subscribe(log.append, where=where, types=types)
        return log


class EventLog(list[Any]):
    """A list that fills from the bus, with a condition to wait on (``wait_for``), never sleep."""

    subscription: Subscription | None = None

    def __init__(self, maxlen: int | None = None) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self.maxlen = maxlen
        self.dropped = 0

    def append(self, event: Any) -> None:
        with self._cond:
            super().append(event)
            if self.maxlen is not None and len(self) > self.maxlen:
                del self[0]
                self.dropped += 1
            self._cond.notify_all()

    def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> Any:
        """Return the first recorded event matching ``predicate``, waiting up to ``timeout``."""
        with self._cond:
            found: list[Any] = []

            def match() -> bool:
                found[:] = [e for e in self if predicate(e)][:1]
                return bool(found)

            if not self._cond.wait_for(match, timeout):
                raise TimeoutError(f"no matching trace event within {timeout} s")
            return found[0]

    def close(self) -> None:
        if self.subscription is not None:
            self.subscription.close()


def by_request(events: Iterable[Any]) -> dict[str, list[Any]]:
    """Events grouped by the request they belong to (``request_id``), in order; events
    with no request id are left out."""
    groups: dict[str, list[Any]] = {}
    for e in events:
        rid = getattr(e, "request_id", "")
        if rid:
            groups.setdefault(rid, []).append(e)
    return groups
