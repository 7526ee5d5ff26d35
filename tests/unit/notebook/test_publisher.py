"""The widget publisher: events reach every view; with none, only the views that ask."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from labcloud.messaging import get_transport
from labcloud.notebook.broker import BrokerView
from labcloud.notebook.publisher import Publisher
from labcloud.trace.bus import TraceBus


class View:
    """Records each batch it is handed; ``due`` None: a view without a due() method."""

    def __init__(self, due: bool | None) -> None:
        self.batches: list[list[Any]] = []
        self.taken = threading.Event()
        if due is not None:
            self.due = lambda: due

    @contextmanager
    def hold_sync(self) -> Iterator[None]:
        yield

    def take(self, events: list[Any]) -> None:
        self.batches.append(events)
        self.taken.set()


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    bus = TraceBus()
    pub = Publisher(bus, rate=1.0)  # the tests flush by hand; the thread is slow
    yield pub
    pub.close()


def test_with_no_events_only_the_views_that_ask_get_a_turn(publisher: Publisher) -> None:
    idle, busy, plain = View(due=False), View(due=True), View(due=None)
    for view in (idle, busy, plain):
        publisher.add(view)
    publisher.flush()
    assert idle.batches == []
    assert busy.batches == [[]]
    assert plain.batches == [[]]  # a view without due() is asked every turn, as before


def test_events_reach_every_view_and_the_last_flush_too(publisher: Publisher) -> None:
    idle = publisher.add(View(due=False))
    assert isinstance(idle, View)
    publisher.bus.emit("an event")
    publisher.flush()
    assert idle.batches == [["an event"]]
    publisher.flush(final=True)  # closing: every view is brought up to date
    assert idle.batches == [["an event"], []]


def test_an_event_wakes_the_sleeping_thread() -> None:
    bus = TraceBus()
    publisher = Publisher(bus, rate=20.0)
    idle = publisher.add(View(due=False))
    assert isinstance(idle, View)
    try:
        bus.emit("an event")
        assert idle.taken.wait(timeout=10)
        assert idle.batches[0] == ["an event"]
    finally:
        publisher.close()


def test_an_idle_broker_view_on_the_in_process_broker_asks_for_no_turn() -> None:
    transport = get_transport("memory://")
    try:
        view = BrokerView(transport.snapshot)
        assert view.due()  # never read yet: it has no graph
        view.refresh()
        assert not view.due()  # read, no message since: nothing to read again yet
    finally:
        transport.cleanup()


class Woken(View):
    """Asks for no turn until changed from elsewhere, then wakes the publisher it was given."""

    def __init__(self) -> None:
        super().__init__(due=None)
        self.changed = False
        self.wake: Any = None
        self.due = lambda: self.changed

    def due_in(self) -> float | None:
        return 0.0 if self.changed else None

    def wake_with(self, wake: Any) -> None:
        self.wake = wake


def test_a_view_changed_from_elsewhere_wakes_the_publisher_for_its_turn() -> None:
    publisher = Publisher(TraceBus(), rate=20.0)
    view = publisher.add(Woken())
    assert isinstance(view, Woken)
    try:
        assert view.wake is not None
        view.changed = True
        view.wake()
        assert view.taken.wait(timeout=10)
        assert view.batches[0] == []
    finally:
        publisher.close()


def test_an_idle_broker_view_says_when_it_reads_again() -> None:
    transport = get_transport("memory://")
    try:
        view = BrokerView(transport.snapshot)
        assert view.due_in() == 0.0  # never read yet
        view.refresh()
        wait = view.due_in()
        assert wait is not None
        assert 0.0 < wait <= 5.0  # the next idle read (IDLE_SNAPSHOT_EVERY)
    finally:
        transport.cleanup()


class Slow(View):
    """Takes its time with each batch, and records it only when done (as a widget sets its
    state at the end of take)."""

    def __init__(self) -> None:
        super().__init__(due=False)
        self.started = threading.Event()
        self.release = threading.Event()
        self.seen: list[Any] = []

    def take(self, events: list[Any]) -> None:
        if events:
            self.started.set()
            self.release.wait(5)
            self.seen.extend(events)


def test_a_flush_returns_only_once_the_events_before_it_reached_the_views() -> None:
    """The thread's own flush may be applying a batch when someone calls flush(): the call
    waits for it, so what was emitted before the call has reached the views on return."""
    bus = TraceBus()
    pub = Publisher(bus, rate=20.0)
    view = Slow()
    pub.add(view)
    bus.emit("an event")
    assert view.started.wait(5)  # the thread took the batch and is applying it
    flushed = threading.Event()
    caller = threading.Thread(target=lambda: (pub.flush(), flushed.set()))
    caller.start()
    assert not flushed.wait(0.2)  # still applying: flush() has not returned
    view.release.set()
    caller.join(5)
    assert flushed.is_set()
    assert view.seen == ["an event"]
    pub.close()
