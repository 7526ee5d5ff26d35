"""Booting from a notebook without blocking it: the requests run in a worker thread.

A breakpoint on the seed's steps 1–8 holds keystone or nova-api *while they answer*; a
cell that made the request itself would wait with them, and the notebook could not take
the click on Continue. ``cloud.boot()`` makes the requests (log in, then POST /servers)
from a thread of its own and returns at once; ``Boot.server_id`` and ``Boot.wait()`` wait
when asked to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StateEvent


class BootFailed(RuntimeError):
    pass


class Boot:
    """One boot request in flight: ``server_id`` once nova-api accepted it."""

    def __init__(self, bus: TraceBus, request: Callable[[], dict[str, Any]]) -> None:
        self._done = threading.Event()
        self._answer: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._states: list[StateEvent] = []
        self._cond = threading.Condition()
        self._sub = bus.subscribe(self._on_state, where=lambda e: isinstance(e, StateEvent))
        self._thread = threading.Thread(target=self._run, args=(request,), name="boot-request")
        self._thread.daemon = True
        self._thread.start()

    def _run(self, request: Callable[[], dict[str, Any]]) -> None:
        try:
            self._answer = request()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc
        finally:
            self._done.set()
            with self._cond:
                self._cond.notify_all()

    def _on_state(self, event: StateEvent) -> None:
        with self._cond:
            self._states.append(event)
            self._cond.notify_all()

    @property
    def accepted(self) -> bool:
        """True once nova-api has answered (202)."""
        return self._done.is_set() and self._error is None

    def result(self, timeout: float = 600.0) -> dict[str, Any]:
        """nova-api's answer to POST /servers (waits for it)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"nova-api did not answer within {timeout} s (a breakpoint?)")
        if self._error is not None:
            raise BootFailed(f"the boot request failed: {self._error}") from self._error
        assert self._answer is not None
        return self._answer

    @property
    def server_id(self) -> str:
        return str(self.result()["server"]["id"])

    def wait(self, status: str = "ACTIVE", timeout: float = 600.0) -> StateEvent:
        """Wait until the instance reaches ``status`` (ACTIVE, ERROR ...)."""
        uuid = self.server_id
        with self._cond:
            found = self._cond.wait_for(
                lambda: next(
                    (e for e in self._states if e.id == uuid and e.status == status), None
                ),
                timeout,
            )
        if not found:
            seen = [e.status for e in self._states if e.id == uuid]
            raise TimeoutError(f"{uuid} did not become {status} in {timeout} s; saw {seen}")
        return found

    def close(self) -> None:
        self._sub.close()
