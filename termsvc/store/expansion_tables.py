"""Stored expansions of large value sets (issue 4): computed once, kept in the store so that every API
process over the same database shares them, and answered page by page with SQL.

`expansion.cache_key` digests everything the expansion depends on (the compiled value set, and the ids and load
ids of the code system versions it used), so a reload of any of them makes a new key and the old rows are
never read again (they are deleted when the new expansion is stored). Rows are written by one INSERT ...
SELECT inside one transaction: a failed expansion stores nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from termsvc.store.tables import BigId, WordText


class Expansion(SQLModel, table=True):
    """One stored expansion, or (kept False, no entries) the record that a value set is too small to keep,
    so that small value sets are not counted again on every request."""

    __tablename__ = "expansion"
    __table_args__ = (Index("ix_expansion_value_set", "value_set_url", "value_set_version"),)

    expansion_id: int | None = Field(default=None, primary_key=True)
    cache_key: str = Field(unique=True)
    value_set_url: str
    value_set_version: str = ""
    # JSON list of [code_system_id, load_id] the expansion used
    used_systems: str = Field(sa_column=Column(Text, nullable=False))
    total: int
    kept: bool = True
    created_at: datetime


class ExpansionEntry(SQLModel, table=True):
    """One code of a stored expansion at its position (0-based, in expansion order). `search` is the text a
    `filter` is matched against (display, code and designations, lower case); `display_lower` ranks matches."""

    __tablename__ = "expansion_entry"
    __table_args__ = ({"sqlite_with_rowid": False},)

    expansion_id: int = Field(primary_key=True)
    position: int = Field(primary_key=True)
    concept_id: int = Field(sa_column=Column(BigId, nullable=False))
    active: bool = True
    display_lower: str | None = Field(default=None, sa_column=Column(Text))
    search: str = Field(sa_column=Column(Text, nullable=False))


class ExpansionWord(SQLModel, table=True):
    """Each distinct word of an entry's `search` text, so that a text filter reads the index range of each
    word's prefix (cost proportional to the matches) instead of scanning every entry of the expansion."""

    __tablename__ = "expansion_word"
    __table_args__ = ({"sqlite_with_rowid": False},)

    expansion_id: int = Field(primary_key=True)
    word: str = Field(sa_column=Column(WordText, primary_key=True))
    position: int = Field(primary_key=True)
