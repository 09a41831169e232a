"""designation words: the word index of SNOMED CT descriptions, for ECL term filters; filled here for the
SNOMED CT versions already loaded, as a load fills it

Revision ID: 0009_designation_word
Revises: 0008_store_generation
Create Date: 2026-12-07 18:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_designation_word'
down_revision = '0008_store_generation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('designation_word',
    sa.Column('code_system_id', sa.Integer(), nullable=False),
    sa.Column('word', sa.Text().with_variant(sa.Text(collation='C'), 'postgresql'), nullable=False),
    sa.Column('concept_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
              nullable=False),
    sa.PrimaryKeyConstraint('code_system_id', 'word', 'concept_id'),
    sqlite_with_rowid=False
    )
    from termsvc.store.words import SCT, index_designation_words

    conn = op.get_bind()
    for (code_system_id,) in conn.execute(sa.text("SELECT code_system_id FROM code_system WHERE url = :u"),
                                          {"u": SCT}).all():
        index_designation_words(conn, int(code_system_id))


def downgrade() -> None:
    op.drop_table('designation_word')
