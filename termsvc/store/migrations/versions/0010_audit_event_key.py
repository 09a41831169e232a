"""audit event key: the identity of an audit row kept back in the spool while a load held the store, unique so
that replaying the spool (after a crash, or by two processes) writes each row once

Revision ID: 0010_audit_event_key
Revises: 0009_designation_word
Create Date: 2026-12-07 20:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010_audit_event_key'
down_revision = '0009_designation_word'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index('ix_audit_entry_event_key', ['event_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_event_key')
        batch_op.drop_column('event_key')
