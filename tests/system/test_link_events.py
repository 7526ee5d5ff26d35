"""The L2 agent's doorbell on link notifications closes cleanly whenever its thread is."""

from __future__ import annotations

import os
import threading

from labcloud.netns import links


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_link_added_rings_and_close_lets_the_waiter_go(ns: str) -> None:
    events = links.LinkEvents(ns)
    rings: list[bool] = []

    def ring() -> None:
        while events.wait(10):  # as the L2 agent's watcher
            rings.append(True)

    waiter = threading.Thread(target=ring)
    waiter.start()
    with links.iproute(ns) as ipr:
        links.ensure_bridge(ipr, "brtest")
    pause = threading.Event()  # never set: a bounded look for the first ring
    for _ in range(100):
        if rings or pause.wait(0.05):
            break
    events.close()
    waiter.join(10)
    assert not waiter.is_alive()  # closed: the loop ended, well before its 10 s timeout
    assert rings


def test_closing_as_the_waiter_wakes_never_fails_nor_leaks(ns: str) -> None:
    """close() racing a wait that a notification (or its timeout) ends: no EBADF from
    either side, and both sockets released once, whoever comes last (200 rounds)."""
    before = _fds()
    for i in range(200):
        events = links.LinkEvents(ns)
        waiter = threading.Thread(target=lambda e=events: [e.wait(0.001) for _ in range(3)])
        waiter.start()
        if i % 2:
            events.close()  # while it waits, or between its waits
            waiter.join(10)
        else:
            waiter.join(10)
            events.close()  # nobody waits: released at once
        assert not waiter.is_alive()
        assert events.wait(0) is False
    assert _fds() <= before + 2
