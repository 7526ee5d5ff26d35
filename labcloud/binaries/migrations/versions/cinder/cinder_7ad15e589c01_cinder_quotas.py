"""cinder: quotas

Revision ID: 7ad15e589c01
Revises: d018a9b803a5
Create Date: 2026-11-30 02:21:39.186223
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7ad15e589c01"
down_revision = "d018a9b803a5"
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
