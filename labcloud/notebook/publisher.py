"""The one thread that writes widget state: trace events in, batched updates out."""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol, cast

from labcloud.trace.bus import TraceBus

LOG = logging.getLogger(__name__)


def _widgets_dir() -> Path:
    """The ES modules and their CSS: ``widgets/`` of a source checkout, or where the wheel
    installed them (``<prefix>/share/labcloud/widgets``)."""
    checkout = Path(__file__).resolve().parents[2] / "widgets"
    if (checkout / "flow.js").exists():
        return checkout
    return Path(sys.prefix) / "share" / "labcloud" / "widgets"


WIDGETS = _widgets_dir()
MAX_RATE_HZ = 20.0
BUFFER = 20_000  # events kept between two updates; older ones are dropped (and counted)
IDLE_CHECK = 0.25  # s between asking idle views without due_in() whether they want a turn


def esm(name: str) -> Path:
    return WIDGETS / f"{name}.js"


def css(name: str) -> Path:
    return WIDGETS / f"{name}.css"


class View(Protocol):
    def take(self, events: list[Any]) -> None:
        """Fold a batch of events into the view's state (called in the publisher thread)."""

    def hold_sync(self) -> Any: ...


def wants_turn(view: View) -> bool:
    """Whether ``view`` has work with no new events (a rate to decay, a source to read
    again): its ``due()`` says, and a view without one is asked every turn."""
    due = getattr(view, "due", None)
    return True if due is None else bool(due())


def next_turn(view: View) -> float | None:
    """Seconds until ``view`` wants a turn with no new events: its ``due_in()`` says (None:
    only events, or its own ``wake``, bring one); a view without one is asked again in
    IDLE_CHECK s."""
    due_in = getattr(view, "due_in", None)
    if due_in is None:
        return 0.0 if wants_turn(view) else IDLE_CHECK
    return cast(float | None, due_in())


class Publisher:
    """Subscribe to a bus; at most every 1/``rate`` s hand each view the events since the
    last time.

    Memory stays bounded whatever the event rate: the buffer keeps the latest ``BUFFER``
    events, and views keep only their latest state. While nothing happens the thread
    sleeps: a turn with no events goes only to the views whose ``due()`` asks for one
    (checked every ``IDLE_CHECK`` s), so an idle dashboard costs next to no CPU.
    """

    def __init__(self, bus: TraceBus, *, rate: float = MAX_RATE_HZ) -> None:
        self.bus = bus
        self.interval = 1.0 / min(rate, MAX_RATE_HZ)
        self.views: list[View] = []
        self.failed: list[View] = []  # views dropped after they raised
        self.dropped = 0
        self.updates = 0
        self._events: deque[Any] = deque(maxlen=BUFFER)
        self._lock = threading.Lock()
        # one flush at a time: a flush called while the thread's own is applying a batch
        # waits for it, so what was emitted before the call has reached the views on return
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._pending = threading.Event()  # set by the first event since the last flush
        self._sub = bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="widget-publisher", daemon=True)
        self._thread.start()

    def add(self, view: View) -> View:
        with self._lock:
            self.views.append(view)
        wake_with = getattr(view, "wake_with", None)
        if wake_with is not None:
            wake_with(self.wake)
        return view

    def wake(self) -> None:
        """Give the views a turn soon, events or not (a view changed from elsewhere)."""
        self._pending.set()

    def _on_event(self, event: Any) -> None:
        with self._lock:
            if len(self._events) == BUFFER:
                self.dropped += 1
            self._events.append(event)
        if not self._pending.is_set():
            self._pending.set()

    def flush(self, *, final: bool = False) -> None:
        """Apply pending events now (the thread does this by itself; tests call it).

        ``final``: the last flush, on close; a view with a ``final()`` method (the broker
        view, which reads the broker by itself every 0.5 s) reads its source once more.

        A view that raises is logged once and dropped, not retried 20 times a second; when no
        view is left, the thread stops.
        """
        with self._flushing:
            self._flush(final)

    def _flush(self, final: bool) -> None:
        with self._lock:
            batch = list(self._events)
            self._events.clear()
            self._pending.clear()
            views = list(self.views)
        if not batch and not final:
            views = [view for view in views if wants_turn(view)]
        for view in views:
            try:
                with view.hold_sync():
                    view.take(batch)
                    if final and hasattr(view, "final"):
                        view.final()
            except Exception:
                LOG.exception("widget %r failed on a batch; it gets no more updates", view)
                with self._lock:
                    self.views.remove(view)
                    self.failed.append(view)
                    if not self.views:
                        self._stop.set()
                        self._pending.set()  # wake the thread if it sleeps: it ends
        self.updates += 1

    def _idle(self) -> float | None:
        """0 when a turn is due now, else how long the thread may sleep (None: until an
        event or a wake comes)."""
        if self._pending.is_set():
            return 0.0
        with self._lock:
            views = list(self.views)
        turns = [t for t in map(next_turn, views) if t is not None]
        return max(0.0, min(turns)) if turns else None

    def _run(self) -> None:
        while not self._stop.is_set():
            sleep = self._idle()
            if sleep is None or sleep > 0:  # sleep until an event comes or a view is due
                if self._pending.wait(sleep):
                    # the first event after a quiet spell: the rest of its burst (an RPC
                    # call's publish, delivery and reply) comes within the interval, and
                    # goes in the same update
                    self._stop.wait(self.interval)
                continue
            self.flush()
            self._stop.wait(self.interval)  # batch what comes next: at most `rate` a second

    def close(self) -> None:
        """Stop, after one last flush: what happened before the cloud stopped reaches every
        view (a boot's last step, a queue emptied by the last delivery), never a state up to
        one interval old."""
        self._sub.close()
        self._stop.set()
        self._pending.set()  # wake the thread if it sleeps
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            if not self.views:
                return
        self.flush(final=True)
