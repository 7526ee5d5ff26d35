"""An agent's word on a device finds its port on PostgreSQL whatever the database's
collation: under a locale's (ICU en-US here) ``prefix + "~"`` sorts before the prefix's ids,
so the key range SQLite uses would find no port there."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy

from labcloud.db import Database
from labcloud.network.models import Base, Network, Port
from labcloud.network.port_status import _of_device
from tests.conftest import port_open, require

PORT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"


def test_a_device_names_its_port_under_a_locale_collation() -> None:
    require(port_open("127.0.0.1", 5432), "no PostgreSQL on 127.0.0.1:5432")
    name = f"labcloud_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(
            sqlalchemy.text(
                f'CREATE DATABASE "{name}" TEMPLATE template0 '
                "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        )
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", Base.metadata)
    try:
        db.create_all()
        stamp = datetime(2026, 1, 1)
        with db.session() as s:
            s.add(Network(id="net", project_id="p", created_at=stamp, updated_at=stamp))
            s.flush()
            s.add(
                Port(
                    id=PORT_ID,
                    network_id="net",
                    project_id="p",
                    mac_address="fa:16:3e:00:00:01",
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        device = "tap" + PORT_ID[:11]
        with db.reader() as s:
            assert s.scalar(_of_device(device, sqlite=True)) is None  # the range: none here
            port = s.scalar(_of_device(device, sqlite=False))
            assert port is not None
            assert port.id == PORT_ID
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
