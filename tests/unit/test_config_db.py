"""Settings and the per-project databases."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labcloud.config import Settings
from labcloud.db import Database


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class Doc(Base):
    __tablename__ = "docs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)


def test_json_columns_read_back_as_json_reads_them(tmp_path: Path) -> None:
    """JSON columns are decoded by json's scanner directly (make_engine): the same values as
    ``json.loads``, for what SQLAlchemy wrote and for text with spaces around it; the same
    error for text that is not JSON."""
    values = [[], {}, {"a": [1, 2.5, None, "x y", {"b": True}]}, "text", 0, None, "é\n"]
    db = Database(f"sqlite:///{tmp_path}/t.sqlite", Base.metadata)
    db.create_all()
    docs = Doc.__table__
    with db.transaction() as c:
        c.execute(docs.insert(), [{"id": i, "body": v} for i, v in enumerate(values)])
        c.execute(text("INSERT INTO docs (id, body) VALUES (100, ' [1, 2] '), (101, '{x')"))
    with db.read() as c:
        read = c.execute(select(docs.c.body).where(docs.c.id < 100).order_by(docs.c.id))
        assert read.scalars().all() == values
        assert c.execute(select(docs.c.body).where(docs.c.id == 100)).scalar() == [1, 2]
        with pytest.raises(json.JSONDecodeError, match="Expecting property name"):
            c.execute(select(docs.c.body).where(docs.c.id == 101)).scalar()
    db.dispose()


def test_one_database_per_project(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    assert settings.database_url_for("nova") == f"sqlite:///{tmp_path}/nova.sqlite"
    pg = settings.but(database_url="postgresql://127.0.0.1/labcloud_{project}")
    assert pg.database_url_for("neutron") == "postgresql://127.0.0.1/labcloud_neutron"
    with pytest.raises(ValueError, match="state_dir"):
        Settings().database_url_for("nova")


def test_settings_from_environment(tmp_path: Path) -> None:
    env = {
        "LABCLOUD_TRANSPORT_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "LABCLOUD_STATE_DIR": str(tmp_path),
    }
    settings = Settings.from_env(env)
    assert settings.transport_url.startswith("amqp://")
    assert settings.state_dir == tmp_path
    assert Settings.from_env({}).transport_url == "memory://"


@pytest.mark.parametrize("where", ["file", "memory"])
def test_sessions_commit_or_roll_back_across_threads(tmp_path: Path, where: str) -> None:
    url = f"sqlite:///{tmp_path}/t.sqlite" if where == "file" else "sqlite://"
    db = Database(url, Base.metadata)
    db.create_all()
    with db.session() as s:
        s.add(Row(name="a"))

    def add_then_fail() -> None:
        with db.session() as s:
            s.add(Row(name="b"))
            s.flush()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        add_then_fail()

    def writer(i: int) -> None:
        with db.session() as s:
            s.add(Row(name=f"t{i}"))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session() as s:
        names = set(s.scalars(select(Row.name)))
    assert names == {"a"} | {f"t{i}" for i in range(8)}
    db.dispose()


@pytest.mark.parametrize("where", ["file", "memory"])
def test_core_transactions_commit_or_roll_back_and_trace_only_commits(
    tmp_path: Path, where: str
) -> None:
    """Database.transaction: written and traced when the block ends, neither if it raises;
    Database.read sees what was committed."""
    from labcloud.trace import TraceBus
    from labcloud.trace.events import DbEvent

    url = f"sqlite:///{tmp_path}/t.sqlite" if where == "file" else "sqlite://"
    db = Database(url, Base.metadata)
    db.create_all()
    bus = TraceBus()
    seen: list[DbEvent] = []
    bus.subscribe(seen.append, types=(DbEvent,))
    db.trace(bus, "test")
    table = Row.__table__
    with db.transaction() as c:
        c.execute(table.insert(), {"id": 1, "name": "a"})
        db.record(c, "rows", "insert", "1")
        assert seen == []  # not before the commit

    def add_then_fail() -> None:
        with db.transaction() as c:
            c.execute(table.insert(), {"id": 2, "name": "b"})
            db.record(c, "rows", "insert", "2")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with db.transaction() as c:  # the failed one's pending event is not carried over
        c.execute(table.insert(), {"id": 3, "name": "c"})
        db.record(c, "rows", "insert", "3")
    with db.read() as c:
        names = set(c.execute(select(table.c.name)).scalars())
    assert names == {"a", "c"}
    assert [(e.table, e.op, e.key) for e in seen] == [
        ("rows", "insert", "1"),
        ("rows", "insert", "3"),
    ]
    db.dispose()


@pytest.mark.parametrize("where", ["file", "memory"])
def test_core_transactions_keep_their_connections(tmp_path: Path, where: str) -> None:
    """Database.transaction and Database.read reuse a connection kept open (up to KEEP of
    each kind), never one in use, never one whose transaction failed; dispose closes them."""
    from labcloud.db import KEEP

    url = f"sqlite:///{tmp_path}/t.sqlite" if where == "file" else "sqlite://"
    db = Database(url, Base.metadata)
    db.create_all()
    table = Row.__table__
    with db.transaction() as c:
        first = c
        c.execute(table.insert(), {"id": 1, "name": "a"})
    with db.transaction() as c:
        assert c is first  # kept: no pool checkout, no new Connection
    with pytest.raises(RuntimeError), db.transaction() as c:
        raise RuntimeError("rolled back")
    with db.transaction() as c:
        assert c is not first
        writer = c
    assert first.closed
    if where == "file":  # readers run side by side: each has its own connection
        with db.read() as a, db.read() as b:
            assert a is not b
        opened = [db.read() for _ in range(KEEP + 3)]
        readers = [r.__enter__() for r in opened]
        assert len({id(r) for r in readers}) == KEEP + 3
        for r in opened:
            r.__exit__(None, None, None)
        assert sum(not r.closed for r in readers) == KEEP  # the others went back to the pool
    with db.read() as c:
        assert c.execute(select(table.c.name)).scalars().all() == ["a"]
    with db.session() as s:  # ORM sessions run on the kept connections too
        assert s.connection() is writer
        s.add(Row(id=2, name="b"))

    def add_then_fail() -> None:
        with db.session() as s:
            s.add(Row(id=3, name="c"))
            s.flush()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert writer.closed  # not kept: its session raised
    with db.reader() as s:
        assert s.connection() is not writer
        assert list(s.scalars(select(Row.name).order_by(Row.id))) == ["a", "b"]
    with db.read() as c:
        kept = c
    db.dispose()
    assert kept.closed


def test_sqlite_writers_take_the_write_lock_at_begin_and_readers_none(tmp_path: Path) -> None:
    """A write transaction (Core or ORM) holds SQLite's write lock from its BEGIN (IMMEDIATE),
    so another process's writer waits rather than fails mid-transaction; a read transaction
    takes none and sees the last commit beside an open writer."""
    import sqlite3

    db = Database(f"sqlite:///{tmp_path}/t.sqlite", Base.metadata)
    db.create_all()
    with db.transaction() as c:
        c.execute(Row.__table__.insert(), {"id": 1, "name": "a"})
    other = sqlite3.connect(tmp_path / "t.sqlite", timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # "database is locked"
            return "locked" not in str(exc)
        other.execute("ROLLBACK")
        return True

    with db.transaction():
        assert not other_can_write()
    with db.session() as s:
        s.get(Row, 1)
        assert not other_can_write()
    with db.read() as c:
        assert c.execute(select(Row.name)).scalar() == "a"
        assert other_can_write()
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE rows SET name = 'b'")
        with db.reader() as s:
            assert s.scalar(select(Row.name)) == "a"  # the last commit, beside the writer
        other.execute("COMMIT")
        assert c.execute(select(Row.name)).scalar() == "a"  # its snapshot
    with db.reader() as s:
        assert s.scalar(select(Row.name)) == "b"
    other.close()
    db.dispose()
