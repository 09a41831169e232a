"""concept_property.role_group: SNOMED CT relationship groups, for ECL attribute groups (issue 10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 17:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006_role_group'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('concept_property') as batch:
        batch.add_column(sa.Column('role_group', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('concept_property') as batch:
        batch.drop_column('role_group')
