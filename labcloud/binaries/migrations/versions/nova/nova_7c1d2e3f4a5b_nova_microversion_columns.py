"""nova: the instance columns later microversions show (2.3, 2.9, 2.19, 2.26), events' traceback

Revision ID: 7c1d2e3f4a5b
Revises: 404e24129794
Create Date: 2026-11-30 04:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7c1d2e3f4a5b"
down_revision = "404e24129794"
branch_labels = None
depends_on = None

COLUMNS = (
    ("display_description", sa.String(length=255), True, None),
    ("user_data", sa.Text(), True, None),
    ("hostname", sa.String(length=255), False, ""),
    ("reservation_id", sa.String(length=255), False, ""),
    ("launch_index", sa.Integer(), False, "0"),
    ("kernel_id", sa.String(length=255), False, ""),
    ("ramdisk_id", sa.String(length=255), False, ""),
    ("root_device_name", sa.String(length=255), True, None),
    ("locked_by", sa.String(length=16), True, None),
    ("tags", sa.JSON(), False, "[]"),
)


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        for name, kind, nullable, default in COLUMNS:
            # existing rows get the default; new rows get theirs from nova-api
            batch_op.add_column(sa.Column(name, kind, nullable=nullable, server_default=default))
    with op.batch_alter_table("instance_actions_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traceback", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instance_actions_events", schema=None) as batch_op:
        batch_op.drop_column("traceback")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        for name, *_ in reversed(COLUMNS):
            batch_op.drop_column(name)
