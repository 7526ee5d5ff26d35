"""neutron: provisioning blocks

Revision ID: 7d735d896ff5
Revises: fcefb015eb94
Create Date: 2026-11-30 16:17:44.654976
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d735d896ff5"
down_revision = "fcefb015eb94"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioningblocks",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("port_id", "entity"),
    )


def downgrade() -> None:
    op.drop_table("provisioningblocks")
