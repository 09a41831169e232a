"""Tables for authorisation and audit: locally issued bearer tokens (stored as sha256, never in clear)
and the audit trail of writes (read back as FHIR AuditEvent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class ApiToken(SQLModel, table=True):
    """An opaque token issued by `termsvc token issue`; only its sha256 is kept, so a copy of the store
    does not give away working tokens."""

    __tablename__ = "api_token"

    token_id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    token_hash: str = Field(unique=True)
    scopes: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditEntry(SQLModel, table=True):
    """One write attempt: who, what, when, the outcome (FHIR AuditEvent outcome codes 0/4/8) and from where."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_recorded", "recorded"),
                      Index("ix_audit_entry_event_key", "event_key", unique=True))

    audit_id: int | None = Field(default=None, primary_key=True)
    recorded: datetime
    action: str  # C, R, U, D, E
    interaction: str  # create, update, delete, ...
    outcome: int  # 0 success, 4 minor failure, 8 serious failure
    outcome_desc: str | None = Field(default=None, sa_column=Column(Text))
    agent: str = Field(index=True)
    agent_kind: str  # token, jwt, anonymous
    source_address: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    url: str | None = Field(default=None, sa_column=Column(Text))
    version: str | None = None
    http_status: int
    # the identity of an attempt whose row was kept back (spooled while a load held the store): a replay of the
    # spool inserts it once, however often it is replayed (termsvc.auth.audit); NULL for rows written at once
    event_key: str | None = None
