"""store generation: the number loads and resource writes bump, which per-process caches are keyed by (issue 11)

Revision ID: 0008_store_generation
Revises: 0007_inactive_designation
Create Date: 2026-12-07 17:05:00.000000
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008_store_generation'
down_revision = '0007_inactive_designation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('store_generation',
    sa.Column('generation_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('generation_id')
    )
    op.bulk_insert(table, [{'generation_id': 1, 'store_id': uuid.uuid4().hex, 'generation': 0}])


def downgrade() -> None:
    op.drop_table('store_generation')
