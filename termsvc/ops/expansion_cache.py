"""Large stored value sets are expanded once and kept in the store; pages and text filters are then answered
from the kept rows with SQL, at the same cost at any offset.

Designed for many stateless API processes over one database: nothing is held in memory. The key digests the
compiled value set (its SQL and bound values, so imported value sets and version choices are in it) and the
id and load id of every code system version it uses; a reload of any of them gives a new key, and the old
expansion of that value set is deleted when the new one is stored. Two processes building the same
expansion at once: the unique key lets one win and the other read the winner's rows.

Only value sets stored on the server (found by url, no inline `valueSet` or `tx-resource`) of at least
`MIN_KEPT` codes are kept; a smaller one is recorded as such (no rows) so it is not counted on every request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from termsvc.ops.params import OpParams
from termsvc.store.bulk import BulkWriter
from termsvc.store.expansion_tables import ExpansionWord
from termsvc.store.locks import is_lock_error, pg_wait, sqlite_wait
from termsvc.store.words import prefix_range, search_words, words
from termsvc.valuesets.compose import Compiled
from termsvc.valuesets.expand import COLUMNS, Query, Row

MIN_KEPT = 1000


class Paging(Protocol):
    """What $expand asks of a query: the total and one page (valuesets.expand.Query answers the same)."""

    def total(self, conn: Connection) -> int: ...

    def page(self, conn: Connection, offset: int, count: int | None) -> list[Row]: ...


@dataclass(frozen=True)
class Kept:
    expansion_id: int
    total: int
    kept: bool


def answering(conn: Connection, params: OpParams, value_set: dict[str, Any], compiled: Compiled,
              query: Query) -> Paging:
    """The stored expansion's query when the value set is kept, else `query`. The first request for a value
    set stores its expansion and is itself answered by `query`: on SQLite its read snapshot may predate the
    rows just written."""
    if not _cacheable(params, value_set):
        return query
    key, used = cache_key(conn, compiled)
    kept = find(conn, key)
    if kept is None:
        store(conn.engine, key, used, value_set, compiled)
        return query
    if not kept.kept:
        return query
    return StoredQuery(kept.expansion_id, kept.total, query.active_only, query.text_filter)


def _cacheable(params: OpParams, value_set: dict[str, Any]) -> bool:
    # inline resources live in a transaction that is rolled back: nothing derived from them may be kept
    return bool(value_set.get("url")) and not params.has("valueSet") and not params.has("tx-resource")


def cache_key(conn: Connection, compiled: Compiled) -> tuple[str, list[list[int | None]]]:
    ids = sorted(compiled.used_systems)
    used: list[list[int | None]] = []
    if ids:
        binds = ", ".join(f":i{n}" for n in range(len(ids)))
        rows = conn.execute(text(f"SELECT code_system_id, load_id FROM code_system WHERE code_system_id IN ({binds}) "
                                 "ORDER BY code_system_id"), {f"i{n}": v for n, v in enumerate(ids)}).all()
        used = [[int(r[0]), None if r[1] is None else int(r[1])] for r in rows]
    digest = hashlib.sha256(orjson.dumps([compiled.condition, compiled.params, used],
                                         option=orjson.OPT_SORT_KEYS)).hexdigest()
    return digest, used


def find(conn: Connection, key: str) -> Kept | None:
    row = conn.execute(text("SELECT expansion_id, total, kept FROM expansion WHERE cache_key = :k"), {"k": key}).first()
    return Kept(int(row[0]), int(row[1]), bool(row[2])) if row is not None else None


def store(engine: Engine, key: str, used: list[list[int | None]], value_set: dict[str, Any],
          compiled: Compiled) -> Kept | None:
    """Expand and keep, in one short transaction on a connection of its own (the request's may be in
    autocommit). A read must never wait on a write: when the store is busy (a load or a write holds SQLite's
    write lock, or another process is building this expansion on PostgreSQL) this gives up at once and
    returns None; the expansion is kept another time."""
    url, version = str(value_set.get("url")), str(value_set.get("version") or "")
    try:
        with _no_wait(engine) as conn:
            # one builder per key on PostgreSQL; the others answer from the query meanwhile
            if conn.dialect.name == "postgresql" and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": key}).scalar():
                return None
            return find(conn, key) or _build(conn, key, used, url, version, compiled)
    except IntegrityError:
        # another process stored the same expansion first: use theirs
        with engine.connect() as conn:
            found = find(conn, key)
        if found is None:
            raise
        return found
    except OperationalError as exc:
        if not is_lock_error(exc):
            raise
        return None


# how long the expansion's write may wait for a lock (PostgreSQL rows or tables) before it gives up
LOCK_WAIT = 0.05


@contextmanager
def _no_wait(engine: Engine) -> Iterator[Connection]:
    """A connection whose transaction fails at once rather than wait for a lock: SQLite takes its write lock up
    front with no busy timeout; PostgreSQL waits at most LOCK_WAIT for any lock."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                pg_wait(conn, LOCK_WAIT)
                yield conn
            return
        conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with sqlite_wait(conn, 0):
            transaction = conn.begin()
        with transaction:
            yield conn


def _build(conn: Connection, key: str, used: list[list[int | None]], url: str, version: str,
           compiled: Compiled) -> Kept:
    total = int(conn.execute(text(f"SELECT COUNT(*) FROM concept c WHERE {compiled.condition}"),
                             compiled.params).scalar_one())
    kept = total >= MIN_KEPT
    # the superseded expansions of this value set (an older load, compose or version choice) go
    old = [int(r[0]) for r in conn.execute(text(
        "SELECT expansion_id FROM expansion WHERE value_set_url = :u AND value_set_version = :v"),
        {"u": url, "v": version})]
    for expansion_id in old:
        conn.execute(text("DELETE FROM expansion_word WHERE expansion_id = :x"), {"x": expansion_id})
        conn.execute(text("DELETE FROM expansion_entry WHERE expansion_id = :x"), {"x": expansion_id})
        conn.execute(text("DELETE FROM expansion WHERE expansion_id = :x"), {"x": expansion_id})
    expansion_id = int(conn.execute(text(
        "INSERT INTO expansion (cache_key, value_set_url, value_set_version, used_systems, total, kept, "
        "created_at) VALUES (:k, :u, :v, :s, :t, :kept, :at) RETURNING expansion_id"),
        {"k": key, "u": url, "v": version, "s": orjson.dumps(used).decode(), "t": total, "kept": kept,
         "at": datetime.now(UTC)}).scalar_one())
    if kept:
        conn.execute(text(_fill_sql(conn.dialect.name, compiled.condition)), {**compiled.params, "xid": expansion_id})
        _index_words(conn, expansion_id)
    return Kept(expansion_id, total, kept)


def _fill_sql(dialect: str, condition: str) -> str:
    # positions follow concept_id, the order of an expansion computed without the store (valuesets.expand)
    joined = ("string_agg(d.value, ' ')" if dialect == "postgresql" else "group_concat(d.value, ' ')")
    return ("INSERT INTO expansion_entry (expansion_id, position, concept_id, active, display_lower, search) "
            "SELECT :xid, ROW_NUMBER() OVER (ORDER BY c.concept_id) - 1, c.concept_id, c.active, LOWER(c.display), "
            "LOWER(COALESCE(c.display, '') || ' ' || c.code || COALESCE(' ' || (SELECT " + joined +
            " FROM designation d WHERE d.concept_id = c.concept_id), '')) "
            f"FROM concept c WHERE {condition}")


def _index_words(conn: Connection, expansion_id: int) -> None:
    """The distinct whitespace-separated words of each entry's search text, where a filter word is looked up
    (a filter word matches at the start of the text or after a space, as valuesets.expand matches it)."""
    rows = conn.execute(text("SELECT position, search FROM expansion_entry WHERE expansion_id = :x"),
                        {"x": expansion_id}).all()
    found = [(expansion_id, word, int(position)) for position, search in rows for word in words(str(search))]
    BulkWriter(conn).write(ExpansionWord.__table__, ("expansion_id", "word", "position"),  # type: ignore[attr-defined]
                           found)


@dataclass
class StoredQuery:
    """Totals and pages read from a kept expansion. Unfiltered pages seek by position (an index range, the
    same cost at any offset); filtered ones start from the word index (the matching positions) and probe the
    entries by key, so their cost follows the number of matches, not the size of the expansion."""

    expansion_id: int
    stored_total: int
    active_only: bool = False
    text_filter: str | None = None

    def source(self, dialect: str) -> tuple[str, dict[str, Any], str | None]:
        """WHERE over `e`, the expansion's entries asked for, and (with a filter) the query of the positions every
        filter word matches (one index range per word, intersected). Entries are then probed by key for those
        positions: on PostgreSQL through `= ANY(ARRAY(...))`, as a join there was planned as a full scan."""
        params: dict[str, Any] = {"xid": self.expansion_id}
        where = "e.expansion_id = :xid" + (" AND e.active" if self.active_only else "")
        ranges = []
        for index, word in enumerate(search_words(self.text_filter or "")):
            params[f"lo{index}"], params[f"hi{index}"] = prefix_range(word)
            ranges.append(f"SELECT position FROM expansion_word WHERE expansion_id = :xid AND word >= :lo{index} "
                          f"AND word < :hi{index}")
        if not ranges:
            return where, params, None
        # one entry can hold a word twice (display and synonym): INTERSECT, or DISTINCT for one word, dedupes
        matches = " INTERSECT ".join(ranges) if len(ranges) > 1 else ranges[0].replace("SELECT", "SELECT DISTINCT", 1)
        where += f" AND e.position = ANY(ARRAY({matches}))" if dialect == "postgresql" else \
            f" AND e.position IN ({matches})"
        return where, params, matches

    def total(self, conn: Connection) -> int:
        if not self.active_only and not self.text_filter:
            return self.stored_total
        where, params, matches = self.source(conn.dialect.name)
        if matches is not None and not self.active_only:
            # every matching position is in the expansion: no need to read the entries
            return int(conn.execute(text(f"SELECT COUNT(*) FROM ({matches}) m"), params).scalar_one())
        return int(conn.execute(text(f"SELECT COUNT(*) FROM expansion_entry e WHERE {where}"), params).scalar_one())

    def page(self, conn: Connection, offset: int, count: int | None) -> list[Row]:
        where, params, _ = self.source(conn.dialect.name)
        if self.text_filter:
            # the relevance order of valuesets.expand: display equal to the text, then starting with it, shorter first
            params["tfx"] = self.text_filter.lower()
            params["tfs"] = _like(self.text_filter.lower()) + "%"
            keys = ("CASE WHEN e.display_lower = :tfx THEN 0 WHEN e.display_lower LIKE :tfs ESCAPE '\\' THEN 1 "
                    "ELSE 2 END AS k1, LENGTH(e.display_lower) AS k2, e.position AS k3")
            order = "k1, k2, k3"
        else:
            # position alone, so the index on (expansion, position) gives the order without a sort
            keys, order = "e.position AS k3", "e.position"
        if not self.text_filter and not self.active_only:
            params["start"] = offset
            where += " AND e.position >= :start"
            offset = 0
        # the page is chosen from the entries alone; only its codes are then read from `concept`
        inner = f"SELECT e.concept_id, {keys} FROM expansion_entry e WHERE {where} ORDER BY {order}"
        if count is not None:
            inner += " LIMIT :lim"
            params["lim"] = count
        elif offset and conn.dialect.name == "sqlite":
            inner += " LIMIT -1"
        if offset:
            inner += " OFFSET :off"
            params["off"] = offset
        sql = f"SELECT {COLUMNS} FROM ({inner}) p JOIN concept c ON c.concept_id = p.concept_id ORDER BY "
        sql += "p.k1, p.k2, p.k3" if self.text_filter else "p.k3"
        return [Row(int(r[0]), int(r[1]), r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7])
                for r in conn.execute(text(sql), params)]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
