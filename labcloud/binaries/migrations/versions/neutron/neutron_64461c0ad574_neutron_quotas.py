"""neutron: quotas

Revision ID: 64461c0ad574
Revises: 8b5fe0005cc8
Create Date: 2026-11-30 02:21:39.237189
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "64461c0ad574"
down_revision = "8b5fe0005cc8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource"),
    )


def downgrade() -> None:
    op.drop_table("quotas")
