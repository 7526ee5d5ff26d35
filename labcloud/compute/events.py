"""Instance action events as nova records them (``nova.compute.utils.EventReporter`` and
``wrap_instance_event``): the service that does a piece of work on an instance reports when
it started and when it ended, under the action nova-api recorded for the request.

The event is named after the method that ran, with its service's prefix:
``compute__do_build_and_run_instance``, ``compute_reboot_instance``,
``conductor_migrate_server`` ... Its result is ``Error`` when the method failed (an
exception, or a failure it handled itself and reported with ``failed``), else ``Success``.
nova-compute reports through nova-conductor (it never touches the database); the times are
taken where the work runs, as nova's ``event_start`` and ``event_finish`` take them.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from labcloud.context import RequestContext

F = TypeVar("F", bound=Callable[..., Any])


class ActionEvents(Protocol):
    """Where events are written: nova-conductor (its RPC client, or itself)."""

    def action_event_start(
        self, ctxt: RequestContext, instance_uuid: str, event: str, host: str, start_time: str
    ) -> None: ...

    def action_event_finish(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        event: str,
        finish_time: str,
        traceback: str | None,
        details: str | None,
    ) -> None: ...


def utcnow() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


class EventReporter:
    """``with EventReporter(conductor, ctxt, "compute_stop_instance", host, uuid):``"""

    def __init__(
        self, sink: ActionEvents, ctxt: RequestContext, event: str, host: str, *uuids: str
    ) -> None:
        self.sink, self.ctxt, self.event, self.host, self.uuids = sink, ctxt, event, host, uuids
        self.failure: BaseException | None = None

    def __enter__(self) -> EventReporter:
        started = utcnow()
        for uuid in self.uuids:
            self.sink.action_event_start(self.ctxt, uuid, self.event, self.host, started)
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        failure = exc or self.failure
        trace = "".join(traceback.format_exception(failure)) if failure else None
        finished = utcnow()
        for uuid in self.uuids:
            self.sink.action_event_finish(
                self.ctxt, uuid, self.event, finished, trace, str(failure) if failure else None
            )


_current: ContextVar[EventReporter | None] = ContextVar("instance_event", default=None)


def failed(exc: BaseException) -> None:
    """The running event's method failed and handled it (a fault written, the state put
    back): its event ends in ``Error``, as nova's would, where the exception propagates."""
    reporter = _current.get()
    if reporter is not None:
        reporter.failure = exc


def wrap_instance_event(prefix: str) -> Callable[[F], F]:
    """nova's decorator, for a manager method ``(self, ctxt, instance, ...)`` whose object
    has ``conductor`` (an ActionEvents) and ``host``: the event ``<prefix>_<method>``."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, ctxt: RequestContext, instance: Any, *args: Any, **kw: Any) -> Any:
            uuid = instance if isinstance(instance, str) else instance["uuid"]
            name = f"{prefix}_{method.__name__}"
            with EventReporter(self.conductor, ctxt, name, self.host, uuid) as reporter:
                token = _current.set(reporter)
                try:
                    return method(self, ctxt, instance, *args, **kw)
                finally:
                    _current.reset(token)

        return wrapper  # type: ignore[return-value]

    return decorate
