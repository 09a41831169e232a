"""The one bulk-write path. Every loader's rows come through here: plain tuples, batched, written with
COPY on PostgreSQL and executemany on SQLite, inside the caller's transaction. No ORM objects per row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

BATCH_ROWS = 20_000


class BulkWriter:
    """Buffers rows per table and column list (a table may be written with two column lists, e.g. properties
    with and without a relationship group) and writes them in batches within one connection's transaction."""

    def __init__(self, conn: Connection, batch_rows: int = BATCH_ROWS) -> None:
        self.conn = conn
        self.batch_rows = batch_rows
        self.is_postgres = conn.dialect.name == "postgresql"
        self._buffers: dict[tuple[str, tuple[str, ...]], list[Sequence[Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: Table, columns: tuple[str, ...], row: Sequence[Any]) -> None:
        key = (table.name, columns)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = []
        buffer.append(row)
        if len(buffer) >= self.batch_rows:
            self._flush(key)

    def extend(self, table: Table, columns: tuple[str, ...], rows: list[Sequence[Any]]) -> None:
        """A batch a loader has gathered itself: the same buffering as `add`, without a call per row."""
        key = (table.name, columns)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = []
        buffer.extend(rows)
        if len(buffer) >= self.batch_rows:
            self._flush(key)

    def write(self, table: Table, columns: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.add(table, columns, row)
        self.flush()

    def flush(self) -> None:
        for key in list(self._buffers):
            self._flush(key)

    def _flush(self, key: tuple[str, tuple[str, ...]]) -> None:
        rows = self._buffers.get(key)
        if not rows:
            return
        name, columns = key
        self._buffers[key] = []
        write_rows(self.conn, name, columns, rows)
        self.counts[name] = self.counts.get(name, 0) + len(rows)


def write_rows(conn: Connection, table_name: str, columns: tuple[str, ...], rows: list[Sequence[Any]]) -> None:
    """Write one batch of rows through the driver's fastest path, inside the current transaction."""
    driver_conn = conn.connection.driver_connection
    assert driver_conn is not None
    column_list = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with driver_conn.cursor() as cursor, cursor.copy(
            f"COPY {table_name} ({column_list}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in columns)
        cursor = driver_conn.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table_name} ({column_list}) VALUES ({placeholders})", rows)
        finally:
            cursor.close()


def write_int_columns(conn: Connection, table_name: str, columns: tuple[str, ...],
                      values: Sequence[Any]) -> None:
    """Write integer-only rows given column by column (e.g. numpy arrays), inside the current transaction:
    on PostgreSQL one COPY of the whole batch as one text block; elsewhere `write_rows`."""
    lists = [column.tolist() if hasattr(column, "tolist") else list(column) for column in values]
    if conn.dialect.name != "postgresql":
        write_rows(conn, table_name, columns, list(zip(*lists, strict=True)))
        return
    driver_conn = conn.connection.driver_connection
    assert driver_conn is not None
    line = "\t".join("%d" for _ in columns) + "\n"
    text_rows = "".join(line % row for row in zip(*lists, strict=True))
    with driver_conn.cursor() as cursor, cursor.copy(
        f"COPY {table_name} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        copy.write(text_rows)
