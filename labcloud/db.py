"""One SQLAlchemy database per OpenStack project (keystone, nova, glance, neutron, cinder).

SQLite by default (a file per project in the cloud's state directory, WAL mode so readers
never wait on the writer), PostgreSQL or any SQLAlchemy URL otherwise. Each service declares
its tables on its own ``DeclarativeBase`` and hands its metadata to :class:`Database`.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from labcloud.trace.bus import TraceBus
from labcloud.trace.events import DbEvent, StateEvent

KEEP = 8  # connections a SQLite Database keeps open for its transactions, of each kind
_NO_LOCK = nullcontext()  # for databases whose transactions need no lock (reusable)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets settings that make it safe across service threads."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    in_memory = url in {"sqlite://", "sqlite:///:memory:"}
    # A file database keeps its connections: readers run side by side (see
    # Database.reader), and a connection opened past the pool's size would be closed after
    # use, so the next one pays for opening the file, its pragmas and its schema again.
    pool: dict[str, Any] = (
        {"poolclass": StaticPool} if in_memory else {"pool_size": 32, "max_overflow": 64}
    )
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        json_deserializer=_json_loads(),
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is the dialect's (_begin_with)
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL syncs at checkpoints, not at every commit: still never corrupt,
            # a power cut may lose the last commits (SQLite's documented trade-off)
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
    # instead of failing when a read transaction tries to become a write
    _begin_with(engine.dialect, "BEGIN IMMEDIATE")
    return engine


def _json_loads() -> Callable[[str], Any]:
    """``json.loads`` for JSON columns: one call of json's C scanner where ``json.loads``
    takes three Python frames (an instance row has eight JSON columns, read at each of a
    build's steps). Text the scanner does not take whole goes to ``json.loads``: same
    values, same errors. (messaging/jsoncodec.py does the same; db imports no messaging.)"""
    # the C function json.loads ends in (typeshed leaves it out: it is not json's API)
    scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

    def loads(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:  # no value at the start: a space, or not JSON
            return json.loads(text)
        return value if end == len(text) else json.loads(text)

    return loads


def make_read_engine(engine: Engine) -> Engine:
    """``engine`` for transactions that only read: on SQLite they begin with a plain
    (deferred) BEGIN, which takes no lock, and in WAL mode read a snapshot beside the writer.
    Its connections, pool and event listeners are ``engine``'s; on SQLite its dialect is a
    copy of ``engine``'s with that BEGIN, made once the first connection has set it up (so
    this connects to the database)."""
    reader = engine.execution_options()
    if engine.dialect.name == "sqlite":
        with engine.connect():  # the dialect learns the server's version, schema ...
            pass
        reader.dialect = copy.copy(engine.dialect)
        _begin_with(reader.dialect, "BEGIN")
    return reader


def _begin_with(dialect: Dialect, statement: str) -> None:
    """SQLite transactions begin with ``statement``: pysqlite, its isolation_level None,
    sends no BEGIN, and SQLAlchemy's dialect none either. Set on the dialect, where
    SQLAlchemy's recipe uses a "begin" event: any engine event listener makes SQLAlchemy
    dispatch its (empty) execute events around every statement, a tenth of a conductor's
    database work. On the DB-API connection itself: SQLAlchemy's execute (a result object)
    for a statement that returns nothing costs as much as a query. Through the proxy's
    ``dbapi_connection`` attribute (pysqlite's connection is its driver's): its
    ``driver_connection`` is a property that asks the pool's dialect, at each BEGIN."""

    def do_begin(connection: Any) -> None:  # the pool's proxy of a sqlite3 connection
        connection.dbapi_connection.execute(statement)

    dialect.do_begin = do_begin  # type: ignore[assignment]  # this dialect's, not its class's


class Database:
    """An engine, the project's tables, and sessions that commit or roll back as a unit."""

    def __init__(self, url: str, metadata: MetaData) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.metadata = metadata
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = make_read_engine(self.engine)
        self._readers = sessionmaker(self._read_engine, expire_on_commit=False)
        # SQLite takes one writer at a time anyway (BEGIN IMMEDIATE); queueing this process's
        # sessions on a lock avoids SQLite's busy handler, which sleeps waiters for up to
        # 100 ms at a time, and lets an in-memory database (one shared connection) work.
        self._one_at_a_time = threading.RLock() if url.startswith("sqlite") else None
        # readers skip that lock where SQLite lets them read beside the writer (a file in
        # WAL mode); an in-memory database has one connection, which readers share too
        in_memory = url in {"sqlite://", "sqlite:///:memory:"}
        self._read_lock = self._one_at_a_time if in_memory else None
        self._traced: tuple[TraceBus, str, str] | None = None  # bus, service, database
        self._watched: dict[type, tuple[str, str]] = {}  # model -> (resource, status column)
        # Transactions on SQLite keep their connections open between uses (up to KEEP
        # each for writes and reads): a pool checkout and checkin, with the Connection
        # built around it, cost as much as a Core transaction's statement. A SQLite
        # connection is a file handle that cannot go stale; PostgreSQL's go back to the
        # pool, whose pre-ping finds a server restarted meanwhile.
        self._keep = KEEP if url.startswith("sqlite") else 0
        self._idle_writers: list[Connection] = []
        self._idle_readers: list[Connection] = []
        self._disposed = False

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        if self._one_at_a_time is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        with (
            self._one_at_a_time,
            self._lent(self._idle_writers, self.engine) as conn,
            self._sessions(bind=conn) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A transaction that only reads: it waits for no writer (SQLite in WAL mode,
        PostgreSQL) and sees the database as of its first query. Writes in it are a bug."""
        if not self._keep:
            with self._readers() as session, session.begin():
                yield session
            return
        with (
            self._read_lock or nullcontext(),
            self._lent(self._idle_readers, self._read_engine) as conn,
            self._readers(bind=conn) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _lent(self, idle: list[Connection], engine: Engine) -> Iterator[Connection]:
        """A connection kept open (see KEEP) for one transaction (a session's, or a Core
        one begun on it); given back after, closed if the block raised: whatever went
        wrong, the next transaction gets a fresh one."""
        conn = self._checkout(idle, engine)
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._checkin(idle, conn)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction for Core statements alone, on a connection without an ORM session:
        committed when the block ends, rolled back if it raises; writes are traced with
        :meth:`record`. A conductor's busiest writes (a build's state changes and action
        events) run here: a session's set-up and commit cost as much as their statements.
        The lent connection's (see :meth:`_lent`) checkout, begin, commit and checkin are
        written out here, in one generator, not three nested context managers: entering and
        leaving them was a third of the CPU of a transaction of one UPDATE."""
        idle = self._idle_writers
        with self._one_at_a_time or _NO_LOCK:
            conn = self._checkout(idle, self.engine)
            try:
                trans = conn.begin()
                try:
                    yield conn
                except BaseException:
                    trans.rollback()
                    raise
                trans.commit()
            except BaseException:  # rolled back, or the commit failed: no event, fresh conn
                conn.info.pop("trace", None)
                conn.close()
                raise
            for event_ in conn.info.pop("trace", ()):
                self._emit(event_)  # in commit order: SQLite's writers hold the lock still
            self._checkin(idle, conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads, for Core statements (see :meth:`reader`)."""
        with (
            self._read_lock or _NO_LOCK,
            self._lent(self._idle_readers, self._read_engine) as conn,
            conn.begin(),
        ):
            yield conn

    def _checkout(self, idle: list[Connection], engine: Engine) -> Connection:
        try:
            return idle.pop()  # atomic: no two threads get the same connection
        except IndexError:
            return engine.connect()

    def _checkin(self, idle: list[Connection], conn: Connection) -> None:
        if len(idle) < self._keep and not self._disposed and not conn.invalidated:
            idle.append(conn)
        else:
            conn.close()

    def _emit(self, event_: DbEvent) -> None:
        if self._traced is not None:
            self._traced[0].emit(event_)

    def trace(
        self,
        bus: TraceBus,
        service: str,
        states: Mapping[type, tuple[str, str]] | None = None,
    ) -> None:
        """Report committed writes on ``bus``: a DbEvent per row inserted, updated or deleted,
        and a StateEvent when a ``states`` model's status column changes
        (``{Volume: ("volume", "status")}``). Events go out after the commit, never for a
        transaction that rolled back, and cost nothing while nobody listens for them."""
        watched = dict(states or {})
        database = self.url.rsplit("/", 1)[-1].removesuffix(".sqlite") or self.url
        self._traced = (bus, service, database)
        self._watched = watched

        def after_flush(session: Session, _context: Any) -> None:
            wants_db = bus.wants(DbEvent)
            wants_state = bool(watched) and bus.wants(StateEvent)
            if not (wants_db or wants_state):
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
                    if wants_db:
                        pending.append(DbEvent(service, database, table, op, key))
                    resource, column = watched.get(type(row), ("", ""))
                    if (
                        wants_state
                        and resource
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

    def record(self, session: Session | Connection, table: str, op: str, *keys: str) -> None:
        """Trace writes the ORM does not see (Core INSERTs and UPDATEs) like the ORM's: a
        DbEvent per row (by its key) after the session (or :meth:`transaction`) commits,
        none if it rolls back."""
        if self._traced is None or not self._traced[0].wants(DbEvent):
            return
        _, service, database = self._traced
        pending = session.info.setdefault("trace", [])
        pending.extend(DbEvent(service, database, table, op, key) for key in keys)

    def record_state(
        self, session: Session | Connection, model: type, key: str, status: str
    ) -> None:
        """Trace a watched model's status written by a Core statement (an INSERT the ORM
        does not see) as a session's flush traces it: a StateEvent after the commit, none
        if it rolls back, nothing when ``model`` is not watched or nobody listens."""
        if self._traced is None:
            return
        bus, service, _ = self._traced
        resource = self._watched.get(model, ("", ""))[0]
        if not resource or not bus.wants(StateEvent):
            return
        event_ = StateEvent(resource=resource, id=key, status=status, service=service)
        session.info.setdefault("trace", []).append(event_)

    def dispose(self) -> None:
        self._disposed = True  # connections in use are closed when their block ends
        for idle in (self._idle_writers, self._idle_readers):
            while idle:
                idle.pop().close()
        self.engine.dispose()
