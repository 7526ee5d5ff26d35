"""Fixtures of neutron's tests: neutron-server alone, and the databases it runs on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Keystone, port_open, require
from tests.integration.network.harness import Neutron


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    require(port_open("127.0.0.1", 5432), "no PostgreSQL on 127.0.0.1:5432")
    import sqlalchemy

    name = f"labcloud_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite-file", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or a throwaway PostgreSQL database (concurrent writers really race)."""
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path}/neutron.sqlite"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def neutron(keystone: Keystone) -> Iterator[Neutron]:
    n = Neutron(keystone)
    yield n
    n.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_db_neutron(request: pytest.FixtureRequest) -> Iterator[Neutron]:
    """One neutron-server per module and database (SQLite stores what PostgreSQL refuses:
    a bad value must be refused before either sees it)."""
    keystone = Keystone()
    try:
        if request.param == "sqlite":
            n = Neutron(keystone)
            yield n
            n.stop()
            return
        with postgres_database() as url:
            n = Neutron(keystone, url)
            yield n
            n.stop()
    finally:
        keystone.stop()
