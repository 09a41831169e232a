"""inactive designations: retired displays (inactive SNOMED CT descriptions), for the inactive-display warning
of $validate-code (issue 10)

Revision ID: 0007_inactive_designation
Revises: 0006_role_group
Create Date: 2026-12-07 17:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007_inactive_designation'
down_revision = '0006_role_group'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inactive_designation',
    sa.Column('inactive_designation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('concept_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('use_system', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('use_code', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('inactive_designation_id')
    )
    with op.batch_alter_table('inactive_designation', schema=None) as batch_op:
        batch_op.create_index('ix_inactive_designation_concept', ['concept_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inactive_designation', schema=None) as batch_op:
        batch_op.drop_index('ix_inactive_designation_concept')
    op.drop_table('inactive_designation')
