"""The mapping workbench's tables: projects, the local codes they import, cached ranked suggestions, and the
append-only decision log. A code's current state is its latest decision; no decision is ever updated or
deleted, so the log is the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class MappingProject(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("name", name="uq_project_name"),)

    project_id: int | None = Field(default=None, primary_key=True)
    name: str
    # the canonical URI of the local code system being mapped
    local_system: str
    target_system: str
    # '' = whichever version of the target is current
    target_version: str = ""
    # JSON list of reviewer names; empty = anyone
    reviewers: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    map_url: str
    created_at: datetime


class LocalCode(SQLModel, table=True):
    __tablename__ = "local_code"
    __table_args__ = (UniqueConstraint("project_id", "code", name="uq_local_code_project_code"),)

    local_code_id: int | None = Field(default=None, primary_key=True)
    project_id: int
    code: str
    display: str
    units: str | None = None
    specimen: str | None = None
    category: str | None = None
    # how often the code occurs in the lab's data: the review order and the weight of coverage
    count: int = 0
    # JSON object of any other columns (and hints such as the LOINC code of a dual-coded OBX-3)
    extra: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    source_file: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime


class MappingSuggestion(SQLModel, table=True):
    __tablename__ = "suggestion"
    __table_args__ = (Index("ix_suggestion_local_code", "local_code_id", "rank"),)

    suggestion_id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(index=True)
    local_code_id: int
    rank: int
    target_code: str
    target_display: str | None = None
    score: float
    explanation: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime


class MappingDecision(SQLModel, table=True):
    __tablename__ = "decision"
    __table_args__ = (Index("ix_decision_local_code", "local_code_id", "decision_id"),)

    decision_id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(index=True)
    local_code_id: int
    reviewer: str
    decided_at: datetime
    # what was done: approve, reject, flag, equivalence, undo, revalidate, import
    action: str
    previous_state: str
    new_state: str
    target_code: str | None = None
    target_display: str | None = None
    equivalence: str | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text))
