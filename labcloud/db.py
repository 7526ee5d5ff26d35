"""One SQLAlchemy database per OpenStack project (keystone, nova, glance, neutron, cinder).

SQLite by default (a file per project in the cloud's state directory, WAL mode so readers
never wait on the writer), PostgreSQL or any SQLAlchemy URL otherwise. Each service declares
its tables on its own ``DeclarativeBase`` and hands its metadata to :class:`Database`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from labcloud.trace.bus import TraceBus
from labcloud.trace.events import DbEvent, StateEvent


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets settings that make it safe across service threads."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    in_memory = url in {"sqlite://", "sqlite:///:memory:"}
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL syncs at checkpoints, not at every commit: still never corrupt,
            # a power cut may lose the last commits (SQLite's documented trade-off)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on
        # busy_timeout instead of failing when a read transaction tries to become a write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine, the project's tables, and sessions that commit or roll back as a unit."""

    def __init__(self, url: str, metadata: MetaData) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.metadata = metadata
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time anyway (BEGIN IMMEDIATE); queueing this process's
        # sessions on a lock avoids SQLite's busy handler, which sleeps waiters for up to
        # 100 ms at a time, and lets an in-memory database (one shared connection) work.
        self._one_at_a_time = threading.RLock() if url.startswith("sqlite") else None

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        if self._one_at_a_time is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        with self._one_at_a_time, self._sessions() as session, session.begin():
            yield session

    def trace(
        self,
        bus: TraceBus,
        service: str,
        states: Mapping[type, tuple[str, str]] | None = None,
    ) -> None:
        """Report committed writes on ``bus``: a DbEvent per row inserted, updated or deleted,
        and a StateEvent when a ``states`` model's status column changes
        (``{Volume: ("volume", "status")}``). Events go out after the commit, never for a
        transaction that rolled back, and cost nothing while nobody listens."""
        watched = dict(states or {})
        database = self.url.rsplit("/", 1)[-1].removesuffix(".sqlite") or self.url

        def after_flush(session: Session, _context: Any) -> None:
            if not bus.active:
                return
            pending = session.info.setdefault("trace", [])
            for op, rows in (
                ("insert", session.new),
                ("update", session.dirty),
                ("delete", session.deleted),
            ):
                for row in rows:
                    if op == "update" and not session.is_modified(row):
                        continue
                    state = inspect(row)
                    key = "/".join(str(k) for k in state.identity or ()) or str(
                        getattr(row, "id", "")
                    )
                    table = str(getattr(row, "__tablename__", type(row).__name__))
                    pending.append(DbEvent(service, database, table, op, key))
                    resource, column = watched.get(type(row), ("", ""))
                    if (
                        resource
                        and op != "delete"
                        and (op == "insert" or state.attrs[column].history.has_changes())
                    ):
                        pending.append(
                            StateEvent(
                                resource=resource,
                                id=key,
                                status=str(getattr(row, column)),
                                service=service,
                            )
                        )

        def after_commit(session: Session) -> None:
            for event_ in session.info.pop("trace", []):
                bus.emit(event_)

        def after_rollback(session: Session) -> None:
            session.info.pop("trace", None)

        event.listen(self._sessions, "after_flush", after_flush)
        event.listen(self._sessions, "after_commit", after_commit)
        event.listen(self._sessions, "after_rollback", after_rollback)

    def dispose(self) -> None:
        self.engine.dispose()
