"""Staging rows in a temporary table with COPY, for set-based loads (core.importing's batches, crm's risk
rules): the table, COPY's text format written in Python, and the upsert that counts what it created and
leaves alone what would not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

STAGE = "import_stage"  # the temporary table a batch is staged in


def stage(rows: Iterable[Sequence[object]], columns: Sequence[tuple[str, str]], *, table: str = STAGE) -> str:
    """COPY rows into a new temporary table (name, SQL type pairs) dropped at the commit; returns its name.

    Call it inside the transaction. The table is analyzed, for queries that join it without import_file's
    settings.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(_new_stage(cursor, columns, table)) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {quote(table)}")
    return table


def stage_text(text: bytes, columns: Sequence[tuple[str, str]], *, table: str = STAGE) -> str:
    """COPY text (`copy_text`'s) into a new temporary table like `stage`'s, not analyzed; returns its name.

    import_file's batches need no statistics: its transaction looks every reference up by index.
    """
    # Through the psycopg cursor under Django's, its errors raised as Django's (DataError ...).
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(_new_stage(cursor, columns, table)) as copy,
    ):
        copy.write(text)
    return table


def _new_stage(cursor: Any, columns: Sequence[tuple[str, str]], table: str) -> str:
    """Create the temporary table; returns the COPY statement that fills it."""
    quote = connection.ops.quote_name
    definition = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in columns)
    names = ", ".join(quote(name) for name, _type in columns)
    # One round trip; no parameters, so psycopg sends both statements at once.
    cursor.execute(
        f"DROP TABLE IF EXISTS {quote(table)}; CREATE TEMPORARY TABLE {quote(table)} ({definition}) ON COMMIT DROP"
    )
    return f"COPY {quote(table)} ({names}) FROM STDIN"


# COPY's text format, written here rather than value by value by the driver: one join a row, in the reading
# thread, so the thread that talks to the database only sends bytes. None is \N; text escapes its backslashes,
# tabs and line ends (NUL is refused by text_value).
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_str(value: str | None) -> str:
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _copy_moment(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _copy_flag(value: bool | None) -> str:
    return "\\N" if value is None else "t" if value else "f"


def _copy_number(value: int | Decimal | None) -> str:
    return "\\N" if value is None else str(value)


_COPY_OF_TYPE: dict[str, Callable[[Any], str]] = {
    "text": _copy_str,
    "timestamptz": _copy_moment,
    "boolean": _copy_flag,
    "int": _copy_number,
    "smallint": _copy_number,
    "bigint": _copy_number,
    "numeric": _copy_number,
}


def copy_text(rows: Iterable[Sequence[Any]], columns: Sequence[tuple[str, str]]) -> bytes:
    """Rows as COPY text for a table of these columns (name, SQL type: text, timestamptz, boolean, int, numeric)."""
    writers = [_COPY_OF_TYPE[sql_type] for _name, sql_type in columns]
    return "".join(
        ["\t".join([write(value) for write, value in zip(writers, row, strict=True)]) + "\n" for row in rows]
    ).encode()


def upsert_counts(sql: str, params: Sequence[Any] = ()) -> tuple[int, int]:
    """Run an INSERT ... ON CONFLICT ... RETURNING (xmax = 0); (created, updated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH done AS ({sql}) SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
            " FROM done",
            params,
        )
        created, updated = cursor.fetchone()
    return int(created), int(updated)


def changed_only(select: str, *, table: str, key: str, columns: Sequence[str], compared: Sequence[str]) -> str:
    """``select`` (its columns named ``columns``) without the rows ``table`` already holds as they are.

    A row is unchanged when ``table`` has its ``key`` with the same ``compared`` values (NULL equal to NULL).
    Filtering it out before ``INSERT ... ON CONFLICT DO UPDATE`` matters even with a ``WHERE`` on the update:
    PostgreSQL locks every conflicting row, the ones the ``WHERE`` then leaves alone included, so an import rerun
    would write a lock into every row it did not change (a page dirtied and WAL written a row, and a wait for
    anybody else holding it). Filtered here, an unchanged row is only read.
    """
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in columns)
    kept = ", ".join(f"t.{quote(name)}" for name in compared)
    incoming = ", ".join(f"incoming.{quote(name)}" for name in compared)
    return (
        f"SELECT * FROM ({select}) AS incoming ({names}) WHERE NOT EXISTS (SELECT 1 FROM {quote(table)} t"
        f" WHERE t.{quote(key)} = incoming.{quote(key)} AND ({kept}) IS NOT DISTINCT FROM ({incoming}))"
    )
