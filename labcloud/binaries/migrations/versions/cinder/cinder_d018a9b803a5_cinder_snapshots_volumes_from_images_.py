"""cinder: snapshots, volumes from images and snapshots

Revision ID: d018a9b803a5
Revises: 7237d5ea0701
Create Date: 2026-11-30 01:05:00.473776
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d018a9b803a5"
down_revision = "7237d5ea0701"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing volumes: not bootable, no image, no metadata (server defaults)
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.String(length=16), nullable=False),
        sa.Column("snapshot_metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["volume_id"],
            ["volumes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snapshots_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_snapshots_volume_id"), ["volume_id"], unique=False)

    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bootable", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("snapshot_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("source_volid", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("image_metadata", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(
            sa.Column("volume_metadata", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.drop_column("volume_metadata")
        batch_op.drop_column("image_metadata")
        batch_op.drop_column("source_volid")
        batch_op.drop_column("snapshot_id")
        batch_op.drop_column("bootable")

    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snapshots_volume_id"))
        batch_op.drop_index(batch_op.f("ix_snapshots_project_id"))

    op.drop_table("snapshots")
