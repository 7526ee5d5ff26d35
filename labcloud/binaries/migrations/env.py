"""Alembic's environment for every project: ``labcloud db sync`` hands it the connection and
the project's metadata (labcloud.binaries.dbsync), so nothing here reads a file or a URL."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes["metadata"],
    render_as_batch=True,  # SQLite alters a table by copying it; alembic's batch mode does
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
