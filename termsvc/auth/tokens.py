"""Opaque bearer tokens issued on this machine (`termsvc token issue`). The token is shown once; the store
keeps its sha256 only. A token is a random 256-bit secret, so an unsalted fast hash is enough: there is no
dictionary to guess from."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, Table, insert, select, update

from termsvc.auth.principal import Principal, invalid_token
from termsvc.auth.scopes import parse_scope_string
from termsvc.errors import Conflict, Invalid, NotFound
from termsvc.store.auth_tables import ApiToken

PREFIX = "tsv_"
TABLE: Table = ApiToken.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= _now():
            return "expired"
        return "active"


def issue(engine: Engine, name: str, scopes: str, *, expires_in_days: float | None = None) -> str:
    """Store a new token under `name` and return it (the only time it is visible)."""
    name = name.strip()
    if not name:
        raise Invalid("A token needs a name")
    granted = parse_scope_string(scopes)
    if not granted:
        raise Invalid("A token needs at least one scope, e.g. \"system/*.cud\"")
    if expires_in_days is not None and expires_in_days <= 0:
        raise Invalid("--expires-in must be a positive number of days")
    token = PREFIX + secrets.token_urlsafe(32)
    now = _now()
    expires = now + timedelta(days=expires_in_days) if expires_in_days is not None else None
    with engine.begin() as conn:
        if conn.execute(select(TABLE.c.token_id).where(TABLE.c.name == name)).first() is not None:
            raise Conflict(f"a token named {name!r} already exists (revoke it or choose another name)")
        conn.execute(insert(TABLE).values(name=name, token_hash=digest(token), scopes=" ".join(granted),
                                          created_at=now, expires_at=expires))
    return token


def revoke(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(TABLE).where(TABLE.c.name == name, TABLE.c.revoked_at.is_(None))
                            .values(revoked_at=_now())).rowcount
        if not done:
            known = conn.execute(select(TABLE.c.token_id).where(TABLE.c.name == name)).first()
            raise NotFound(f"token {name!r} " + ("is already revoked" if known else "does not exist"))


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(TABLE).order_by(TABLE.c.name)).all()
    return [TokenInfo(r.name, parse_scope_string(r.scopes), r.created_at, r.expires_at, r.revoked_at)
            for r in rows]


def verify(conn: Connection, token: str) -> Principal:
    row = conn.execute(select(TABLE).where(TABLE.c.token_hash == digest(token))).first()
    if row is None:
        raise invalid_token("The bearer token is not known")
    if row.revoked_at is not None:
        raise invalid_token("The bearer token has been revoked")
    if row.expires_at is not None and row.expires_at <= _now():
        raise invalid_token("The bearer token has expired")
    return Principal(row.name, "token", parse_scope_string(row.scopes))
