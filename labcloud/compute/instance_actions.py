"""nova's os-instance-actions: each request on an instance, with its events.

nova-api records the action (``create``, ``reboot``, ``resize`` ...) under the request's id.
Its events are the methods that did the work, each reported by the service that ran it
(compute/events.py): a boot is ``compute__do_build_and_run_instance`` on each host that
tried it (a boot no host could take, ``conductor_schedule_and_build_instances``); a resize
``conductor_migrate_server``, ``compute_prep_resize``, ``compute_resize_instance``,
``compute_finish_resize``. The seed's phases (scheduling, networking, block_device_mapping,
spawning) are task states, not events: the flow recorder shows them.

What a caller sees depends on the microversion, as nova's: events only for admins below
2.51 (so at every version labcloud serves), the traceback of a failed one only for admins;
from 2.21 the actions of a deleted server too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from labcloud.compute.models import InstanceAction, InstanceActionEvent
from labcloud.compute.schemas import plain
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import NotFound

ACTIONS: Table = InstanceAction.__table__  # type: ignore[assignment]  # a Table, typed FromClause
EVENTS: Table = InstanceActionEvent.__table__  # type: ignore[assignment]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def start(
    db: Database,
    c: Connection,
    ctxt: RequestContext,
    uuids: Sequence[str],
    action: str,
    when: datetime,
) -> None:
    """Record ``action`` on each of ``uuids`` under the request's id: one INSERT for all
    (a multi-create's 1,000 ORM objects added and flushed were most of its POST)."""
    rows = [
        {
            "instance_uuid": uuid,
            "action": action,
            "request_id": ctxt.request_id,
            "user_id": ctxt.user_id or "",
            "project_id": ctxt.project_id or "",
            "message": None,
            "start_time": when,
        }
        for uuid in uuids
    ]
    ids = c.execute(insert(ACTIONS).returning(ACTIONS.c.id, sort_by_parameter_order=True), rows)
    db.record(c, ACTIONS.name, "insert", *map(str, ids.scalars()))


class InstanceActions:
    """Actions and their events. The events a build reports go through the conductor twice
    per instance: they are Core statements built once and run with parameters (an ORM
    object loaded, changed and flushed each time was most of the conductor's work)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # the request's action on the instance (nova's ``action_get_by_request_id``)
        self._action_id = (
            select(ACTIONS.c.id)
            .where(
                ACTIONS.c.instance_uuid == bindparam("instance_uuid"),
                ACTIONS.c.request_id == bindparam("request_id"),
            )
            .order_by(ACTIONS.c.id.desc())
            .limit(1)
        )
        # the event, under the request's action if it has one: INSERT ... SELECT, one
        # statement where the action's id was read first
        self._add_event = (
            insert(EVENTS)
            .from_select(
                ["action_id", "event", "host", "start_time"],
                select(
                    self._action_id.subquery().c.id,
                    bindparam("event_name", type_=EVENTS.c.event.type),
                    bindparam("event_host", type_=EVENTS.c.host.type),
                    bindparam("event_start", type_=EVENTS.c.start_time.type),
                ),
            )
            .returning(EVENTS.c.id)
        )
        # the latest of the request's action's events by that name not yet finished
        open_event = (
            select(EVENTS.c.id)
            .where(
                EVENTS.c.action_id == self._action_id.scalar_subquery(),
                EVENTS.c.event == bindparam("event_name"),
                EVENTS.c.finish_time.is_(None),
            )
            .order_by(EVENTS.c.id.desc())
            .limit(1)
        )
        # finished in the statement that finds it (it was a SELECT, then an UPDATE)
        self._finish_event = (
            update(EVENTS)
            .where(EVENTS.c.id == open_event.scalar_subquery())
            .returning(EVENTS.c.id, EVENTS.c.action_id)
        )
        self._mark_error = (
            update(ACTIONS).where(ACTIONS.c.id == bindparam("where_id")).values(message="Error")
        )

    def event_start(
        self, instance_uuid: str, request_id: str, event: str, host: str, when: datetime
    ) -> None:
        """Work on the instance began; an event with no action of its request (a periodic
        task's, say) is not recorded."""
        where = {"instance_uuid": instance_uuid, "request_id": request_id}
        row = where | {"event_name": event, "event_host": host, "event_start": when}
        with self.db.transaction() as c:  # Core statements: no ORM session
            event_id = c.execute(self._add_event, row).scalar()
            if event_id is not None:
                self.db.record(c, EVENTS.name, "insert", str(event_id))

    def event_finish(
        self,
        instance_uuid: str,
        request_id: str,
        event: str,
        when: datetime,
        traceback: str | None,
        details: str | None,
    ) -> None:
        """The work ended: ``Error`` with a traceback, else ``Success``; an Error also marks
        the action's message, as nova's ``action_event_finish`` does."""
        where = {"instance_uuid": instance_uuid, "request_id": request_id}
        values = {
            "finish_time": when,
            "result": "Error" if traceback else "Success",
            "traceback": traceback,
            "details": (details or "")[:255] or None,
        }
        with self.db.transaction() as c:  # Core statements: no ORM session
            found = c.execute(self._finish_event, where | values | {"event_name": event}).first()
            if found is None:  # no action of the request, or no such event open in it
                return
            event_id, action_id = found
            self.db.record(c, EVENTS.name, "update", str(event_id))
            if traceback:
                c.execute(self._mark_error, {"where_id": action_id})
                self.db.record(c, ACTIONS.name, "update", str(action_id))

    def list(self, instance_uuid: str) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            rows = s.scalars(
                select(InstanceAction)
                .where(InstanceAction.instance_uuid == instance_uuid)
                .order_by(InstanceAction.id.desc())
            )
            return [self._action(r) for r in rows]

    def get(self, instance_uuid: str, request_id: str, *, admin: bool) -> dict[str, Any]:
        """The action, with its events for admins (nova's ``events`` rule below 2.51)."""
        if not plain(request_id):
            raise NotFound(f"Action for request_id {request_id[:64]!r} could not be found")
        with self.db.reader() as s:
            row = s.scalar(
                select(InstanceAction).where(
                    InstanceAction.instance_uuid == instance_uuid,
                    InstanceAction.request_id == request_id,
                )
            )
            if row is None:
                raise NotFound(f"Action for request_id {request_id} on instance could not be found")
            if not admin:
                return self._action(row)
            events = s.scalars(
                select(InstanceActionEvent)
                .where(InstanceActionEvent.action_id == row.id)
                .order_by(InstanceActionEvent.id)
            )
            shown = [
                {
                    "event": e.event,
                    "start_time": _iso(e.start_time),
                    "finish_time": _iso(e.finish_time),
                    "result": e.result,
                    "traceback": e.traceback,
                }
                for e in events
            ]
            return self._action(row) | {"events": shown}

    @staticmethod
    def _action(r: InstanceAction) -> dict[str, Any]:
        return {
            "action": r.action,
            "instance_uuid": r.instance_uuid,
            "request_id": r.request_id,
            "user_id": r.user_id,
            "project_id": r.project_id,
            "start_time": _iso(r.start_time),
            "message": r.message,
        }
