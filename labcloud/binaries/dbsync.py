"""``labcloud db sync PROJECT``: a project's schema by its Alembic migrations, as
``nova-manage db sync`` and ``keystone-manage db_sync`` do; the database made when missing.

Each project keeps its migrations in ``migrations/versions/<project>/``; the first of each
was written by Alembic's autogenerate from the project's models (``labcloud db revision``
adds the next one when the models change).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from labcloud.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
MODELS = {
    "keystone": "labcloud.identity.models",
    "nova": "labcloud.compute.models",
    "glance": "labcloud.image.models",
    "neutron": "labcloud.network.models",
    "cinder": "labcloud.volume.models",
}


class DatabaseRefused(RuntimeError):
    """The database server said no: what it said, and what to do about it."""


def metadata(project: str) -> MetaData:
    base = importlib.import_module(MODELS[project]).Base
    return base.metadata  # type: ignore[no-any-return]


def alembic_config(project: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS / "versions" / project))
    config.set_main_option("file_template", f"{project}_%%(rev)s_%%(slug)s")
    config.attributes["metadata"] = metadata(project)
    return config


def ensure_database(url: str) -> bool:
    """Create the database of a PostgreSQL ``url`` if it is missing (True if it made it).
    SQLite makes its file by itself."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return False
    engine = create_engine(parsed)
    try:
        with engine.connect():
            return False
    except OperationalError as exc:  # only a missing database is made; a missing role is not
        if f'database "{parsed.database}" does not exist' not in str(exc):
            raise DatabaseRefused(_refused(parsed, exc, "connect to")) from exc
    finally:
        engine.dispose()
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except (OperationalError, ProgrammingError) as exc:
        raise DatabaseRefused(_refused(parsed, exc, "create")) from exc
    finally:
        server.dispose()
    return True


def _refused(url: URL, exc: Exception, what: str) -> str:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    hint = (
        f"An administrator can make it: sudo -u postgres createdb -O {url.username} {url.database}"
        if what == "create"
        else f"Is PostgreSQL running at {where}, and may {url.username or 'this user'} log in?"
    )
    return (
        f"PostgreSQL at {where} refused to let {url.username or 'this user'} {what} "
        f"database {url.database!r}: {reason}\n{hint}"
    )


def sync(project: str, url: str) -> tuple[str | None, str | None]:
    """Upgrade ``project``'s database at ``url`` to the newest migration: (before, after)."""
    ensure_database(url)
    config = alembic_config(project)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            after = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return before, after


def head(project: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(project)).get_current_head()


def revision(project: str, url: str, message: str) -> None:
    """Write the next migration of ``project`` from the difference between its models and
    the database at ``url`` (kept at the current head): ``labcloud db revision``."""
    config = alembic_config(project)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.revision(config, message=message, autogenerate=True)
    finally:
        engine.dispose()
