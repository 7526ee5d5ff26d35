"""The one thread that writes widget state: trace events in, batched updates out."""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol

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


def esm(name: str) -> Path:
    return WIDGETS / f"{name}.js"


def css(name: str) -> Path:
    return WIDGETS / f"{name}.css"


class View(Protocol):
    def take(self, events: list[Any]) -> None:
        """Fold a batch of events into the view's state (called in the publisher thread)."""

    def hold_sync(self) -> Any: ...


class Publisher:
    """Subscribe to a bus; every 1/``rate`` s hand each view the events since the last time.

    Memory stays bounded whatever the event rate: the buffer keeps the latest ``BUFFER``
    events, and views keep only their latest state.
    """

    def __init__(self, bus: TraceBus, *, rate: float = MAX_RATE_HZ) -> None:
        self.bus = bus
        self.interval = 1.0 / min(rate, MAX_RATE_HZ)
        self.views: list[View] = []
        self.dropped = 0
        self.updates = 0
        self._events: deque[Any] = deque(maxlen=BUFFER)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sub = bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="widget-publisher", daemon=True)
        self._thread.start()

    def add(self, view: View) -> View:
        with self._lock:
            self.views.append(view)
        return view

    def _on_event(self, event: Any) -> None:
        with self._lock:
            if len(self._events) == BUFFER:
                self.dropped += 1
            self._events.append(event)

    def flush(self) -> None:
        """Apply pending events now (the thread does this by itself; tests call it)."""
        with self._lock:
            batch = list(self._events)
            self._events.clear()
            views = list(self.views)
        for view in views:
            try:
                with view.hold_sync():
                    view.take(batch)
            except Exception:
                LOG.exception("widget %r failed on a batch", view)
        self.updates += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._sub.close()
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
