"""Reading and changing instance rows in nova's database (used by nova-api and nova-conductor;
nova-compute never touches the database: it asks nova-conductor, as in nova)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import Table, Update, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection, Result

from labcloud.compute import instance_actions
from labcloud.compute.models import Instance, InstanceFault
from labcloud.compute.states import status
from labcloud.context import RequestContext
from labcloud.db import Database
from labcloud.exceptions import InstanceNotFound, UnexpectedVMStateError
from labcloud.trace.bus import TraceBus
from labcloud.trace.events import StateEvent

STATE_FIELDS = ("vm_state", "task_state", "power_state")
# Core statements on the table, not ORM objects: a build reads and writes its row about ten
# times, and loading, tracking and flushing an ORM object each time was a fifth of the
# cloud's CPU in a burst of builds. They run in Database.transaction: a connection with no
# ORM session, whose set-up and commit cost about as much as the statements.
TABLE: Table = Instance.__table__  # type: ignore[assignment]  # a Table, typed FromClause
COLUMNS = tuple(c.name for c in TABLE.columns)
_KNOWN = frozenset(COLUMNS)
FAULTS: Table = InstanceFault.__table__  # type: ignore[assignment]
FAULT_BATCH = 500  # instances whose faults one query reads (SQLite allows 32,766 parameters)


def _defaults() -> dict[str, Any]:
    """The columns' defaults (models.Instance), fresh lists and dicts each time."""
    return {
        "image_ref": "",
        "power_state": 0,
        "metadata": {},
        "network_info": [],
        "requested_networks": [],
        "block_devices": [],
        "request_id": "",
        "deleted": False,
        "hostname": "",
        "reservation_id": "",
        "launch_index": 0,
        "kernel_id": "",
        "ramdisk_id": "",
        "tags": [],
    }


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def to_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An instance (a row of the table, by column name) as it travels over RPC (JSON-safe)."""
    return _sent(dict(row))


def _sent(result: dict[str, Any]) -> dict[str, Any]:
    """``to_dict`` of a dict of the row's own (changed in place, and returned)."""
    for key in ("launched_at", "created_at", "updated_at"):
        result[key] = result[key].isoformat() if result[key] else None
    result["status"] = status(result["vm_state"], result["task_state"])
    return result


def _first(result: Result[Any]) -> dict[str, Any] | None:
    """The first row of ``result`` as a dict by column name, or None: built from the row's
    fields, where ``result.mappings().first()`` wraps the result and the row in two more
    objects first (a tenth of the instructions of a SELECT by key)."""
    row = result.first()
    return None if row is None else dict(zip(row._fields, row, strict=True))


class Instances:
    """Instance rows plus the trace: every state change is a StateEvent."""

    def __init__(self, db: Database, bus: TraceBus | None, service: str) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        # built once, run with parameters: building and hashing a new statement for each of
        # a build's reads and writes cost more than running it
        self._by_uuid = select(TABLE).where(TABLE.c.uuid == bindparam("uuid"))
        self._by_uuids = select(TABLE).where(TABLE.c.uuid.in_(bindparam("uuids", expanding=True)))
        self._set = update(TABLE).where(TABLE.c.uuid == bindparam("where_uuid"))
        self._writers: dict[tuple[tuple[str, ...], bool], Update] = {}  # see _writer
        self._state = select(TABLE.c.vm_state).where(TABLE.c.uuid == bindparam("uuid"))
        self._new_fault = insert(FAULTS).returning(FAULTS.c.id)
        self._faults = (
            select(FAULTS)
            .where(FAULTS.c.instance_uuid.in_(bindparam("uuids", expanding=True)))
            .order_by(FAULTS.c.id.desc())
        )
        # what the conductor's check of the builds reads of each build, every minute: no
        # JSON column (decoding the nine of each of a thousand builds was most of its cost)
        self._building = select(
            TABLE.c.uuid, TABLE.c.host, TABLE.c.task_state, TABLE.c.updated_at
        ).where(TABLE.c.deleted.is_(False), TABLE.c.vm_state == bindparam("vm_state"))

    def get(
        self, uuid: str, *, project_id: str | None = None, read_deleted: bool = False
    ) -> dict[str, Any]:
        with self.db.read() as c:
            row = _first(c.execute(self._by_uuid, {"uuid": uuid}))
        gone = row is not None and row["deleted"] and not read_deleted
        if row is None or gone or (project_id and row["project_id"] != project_id):
            raise InstanceNotFound(instance_id=uuid)
        return _sent(row)

    def get_many(self, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The instances of ``uuids`` not deleted, by uuid, in one query (nova's
        ``InstanceList.get_by_filters(uuid=...)``); those not found are left out."""
        with self.db.read() as c:
            rows = c.execute(self._by_uuids, {"uuids": list(uuids)}).mappings().all()
        return {r["uuid"]: to_dict(r) for r in rows if not r["deleted"]}

    def list(self, project_id: str | None) -> list[dict[str, Any]]:
        query = select(TABLE).where(TABLE.c.deleted.is_(False))
        if project_id:
            query = query.where(TABLE.c.project_id == project_id)
        with self.db.reader() as s:
            rows = s.execute(query.order_by(TABLE.c.created_at.desc())).mappings().all()
        return [to_dict(r) for r in rows]

    def where(
        self, *, host: str | None = None, vm_state: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Instances not deleted, on ``host`` and/or in ``vm_state``."""
        query = select(TABLE).where(TABLE.c.deleted.is_(False))
        if host is not None:
            query = query.where(TABLE.c.host == host)
        if vm_state is not None:
            query = query.where(TABLE.c.vm_state == vm_state)
        with self.db.reader() as s:
            rows = s.execute(query).mappings().all()
        return [to_dict(r) for r in rows]

    def in_state(self, vm_state: str) -> builtins.list[dict[str, Any]]:
        """Instances not deleted in ``vm_state``: their uuid, host, task_state and
        updated_at (a datetime) only."""
        with self.db.read() as c:
            rows = c.execute(self._building, {"vm_state": vm_state}).mappings().all()
        return [dict(r) for r in rows]

    def create(self, values: dict[str, Any], ctxt: RequestContext | None = None) -> dict[str, Any]:
        """Insert the row; with ``ctxt``, also its ``create`` action (os-instance-actions)."""
        return self.create_many([values], ctxt)[0]

    def create_many(
        self, values: Sequence[dict[str, Any]], ctxt: RequestContext | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Insert the rows in one transaction; with ``ctxt``, also their ``create`` actions.
        nova's ``_provision_instances`` creates a multi-create's instances one at a time;
        labcloud writes them together (1,000 transactions were most of a 1,000-instance POST)."""
        when = now()
        rows = []
        for v in values:
            row: dict[str, Any] = dict.fromkeys(COLUMNS) | _defaults()
            row |= {"metadata" if k == "metadata_" else k: x for k, x in v.items()}
            rows.append(row | {"created_at": when, "updated_at": when})
        with self.db.transaction() as c:
            c.execute(insert(TABLE), rows)
            self.db.record(c, TABLE.name, "insert", *(r["uuid"] for r in rows))
            if ctxt is not None:
                uuids = [r["uuid"] for r in rows]
                instance_actions.start(self.db, c, ctxt, uuids, "create", when)
        result = [to_dict(r) for r in rows]
        for inst in result:
            self._emit(inst)
        return result

    def update(
        self,
        uuid: str,
        updates: dict[str, Any],
        *,
        expected_vm_state: str | None = None,
        fault: tuple[int, str, str] | None = None,
    ) -> dict[str, Any]:
        """Apply ``updates`` (column names; ``metadata`` is the instance's metadata); with
        ``expected_vm_state``, only if the row is still in that state (the row is locked
        from the check to the write), else UnexpectedVMStateError. ``fault`` (code, message,
        details): recorded in the same transaction, so no reader sees ERROR without it."""
        values = {"metadata" if k == "metadata_" else k: v for k, v in updates.items()}
        unknown = values.keys() - _KNOWN
        if unknown:
            raise ValueError(f"instances have no column {', '.join(sorted(unknown))}")
        values["updated_at"] = now()
        params = values | {"where_uuid": uuid, "expected_vm_state": expected_vm_state}
        params |= {f"new_{f}": values[f] for f in STATE_FIELDS if f in values}
        states = tuple(f for f in STATE_FIELDS if f in values)
        expecting = expected_vm_state is not None
        with self.db.transaction() as c:
            row = None
            if states:  # the row comes back if one of its states changes: that is traced
                row = _first(c.execute(self._writer(states, expecting), params))
            changed = row is not None
            if row is None:  # no state changes (or none given): written all the same
                row = _first(c.execute(self._writer((), expecting), params))
            if row is None:
                self._not_written(c, uuid, expected_vm_state)
            if fault is not None:
                self._add_fault(c, uuid, *fault)
            self.db.record(c, TABLE.name, "update", uuid)
        result = _sent(row)
        if changed:
            self._emit(result)
        return result

    def _writer(self, states: tuple[str, ...], expecting: bool) -> Update:
        """The UPDATE of one instance, returning its row: with ``expecting``, only while its
        vm_state is the expected one; with ``states``, only if one of them changes. One
        statement where a SELECT (with the row locked) then an UPDATE were two: the UPDATE
        itself locks the row from the check to the write."""
        key = (states, expecting)
        writer = self._writers.get(key)
        if writer is None:
            writer = self._set
            if expecting:
                writer = writer.where(TABLE.c.vm_state == bindparam("expected_vm_state"))
            if states:
                changes = (TABLE.c[f].is_distinct_from(bindparam(f"new_{f}")) for f in states)
                writer = writer.where(or_(*changes))
            writer = self._writers[key] = writer.returning(*TABLE.c)
        return writer

    def _not_written(self, c: Connection, uuid: str, expected_vm_state: str | None) -> NoReturn:
        """Why an update found no row to write: the instance is gone, or not as expected."""
        actual = c.execute(self._state, {"uuid": uuid}).scalar()
        if actual is None:
            raise InstanceNotFound(instance_id=uuid)
        raise UnexpectedVMStateError(expected=expected_vm_state, actual=actual)

    def update_many(
        self, changes: Sequence[tuple[str, dict[str, Any]]]
    ) -> builtins.list[dict[str, Any]]:
        """``update`` of several instances in one transaction, each with its own values
        (the same columns for all); stops before the first instance that is gone, and
        returns the updated ones (the caller raises InstanceNotFound for the next)."""
        if not changes:
            return []
        uuids = [uuid for uuid, _ in changes]
        with self.db.transaction() as c:
            if len(uuids) == 1:  # one POST's one instance: no IN (...) to expand
                rows = c.execute(self._by_uuid, {"uuid": uuids[0]}).mappings()
            else:
                rows = c.execute(self._by_uuids, {"uuids": uuids}).mappings()
            found = {r["uuid"]: r for r in rows}
            when = now()
            writes = []
            for uuid, updates in changes:
                if uuid not in found:
                    break
                values = {"metadata" if k == "metadata_" else k: v for k, v in updates.items()}
                unknown = set(values).difference(COLUMNS)
                if unknown:
                    raise ValueError(f"instances have no column {', '.join(sorted(unknown))}")
                writes.append((found[uuid], values | {"updated_at": when}))
            if writes:
                c.execute(self._set, [v | {"where_uuid": r["uuid"]} for r, v in writes])
                self.db.record(c, TABLE.name, "update", *(r["uuid"] for r, _ in writes))
        results = []
        for row, values in writes:
            result = to_dict(dict(row) | values)
            if any(result[f] != row[f] for f in STATE_FIELDS):
                self._emit(result)
            results.append(result)
        return results

    def start_action(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        """nova-api records a request on the instance before it acts (os-instance-actions)."""
        with self.db.transaction() as c:
            instance_actions.start(self.db, c, ctxt, [uuid], action, now())

    def remove_vif(self, uuid: str, port_id: str) -> None:
        """The port leaves the instance's network info, read and written in one transaction
        with the row locked (a concurrent write of new ports is not lost)."""
        with self.db.transaction() as c:
            locked = select(TABLE.c.network_info).where(TABLE.c.uuid == uuid).with_for_update()
            info = c.execute(locked).scalar()
            if not info:
                return
            kept = [v for v in info if v.get("port_id") != port_id]
            if len(kept) != len(info):
                c.execute(
                    update(TABLE)
                    .where(TABLE.c.uuid == uuid)
                    .values(network_info=kept, updated_at=now())
                )
                self.db.record(c, TABLE.name, "update", uuid)

    def add_fault(self, uuid: str, code: int, message: str, details: str = "") -> None:
        with self.db.transaction() as c:
            self._add_fault(c, uuid, code, message, details)

    def _add_fault(
        self, c: Connection, uuid: str, code: int, message: str, details: str = ""
    ) -> None:
        row = {
            "instance_uuid": uuid,
            "code": code,
            "message": message[:255],
            "details": details,
            "created_at": now(),
        }
        fault_id = c.execute(self._new_fault, row).scalar()
        self.db.record(c, FAULTS.name, "insert", str(fault_id))

    def fault(self, uuid: str) -> dict[str, Any] | None:
        """The instance's latest fault, or None."""
        return self.faults([uuid]).get(uuid)

    def faults(self, uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The latest fault of each of ``uuids`` that has one, by uuid: one query per
        FAULT_BATCH instances (nova's ``InstanceFaultList.get_latest_by_instance_uuids``),
        where a page of servers read one each."""
        wanted = list(dict.fromkeys(uuids))
        found: dict[str, dict[str, Any]] = {}
        with self.db.read() as c:
            for at in range(0, len(wanted), FAULT_BATCH):
                batch = wanted[at : at + FAULT_BATCH]
                for row in c.execute(self._faults, {"uuids": batch}):  # newest first
                    if row.instance_uuid not in found:
                        found[row.instance_uuid] = {
                            "code": row.code,
                            "message": row.message,
                            "details": row.details,
                            "created": row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        }
        return found

    def _emit(self, inst: dict[str, Any]) -> None:
        if self.bus is not None and self.bus.active:
            self.bus.emit(
                StateEvent(
                    resource="instance",
                    id=inst["uuid"],
                    status=inst["status"],
                    vm_state=inst["vm_state"],
                    task_state=inst["task_state"],
                    power_state=inst["power_state"],
                    service=self.service,
                    request_id=inst["request_id"],
                )
            )
