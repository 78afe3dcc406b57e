"""Plain SQL for the engine's hot path, written once per process and run many times.

A delivery is a handful of statements (claim, load, record). Through the ORM each one
spends more time in Python building its SQL (0.5-3 ms under load) than the database
spends running it, so the engine writes these few statements itself, from the models'
own metadata (table and column names, and each field's conversions to and from the
database), and reuses the text: values still go through `Field.get_db_prep_save` and
come back through the converters the ORM's compiler would apply, so what is stored
and read is exactly what the ORM would store and read, on PostgreSQL and SQLite alike.

Everything else (admin, sweeper, reports, tests) uses the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Field, Model


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    """The quoted column of field `name` (or its attname, e.g. "step_id")."""
    return quote(_field(model, name).column)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def prep(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the ORM would send it for field `name` of `model`."""
    return _field(model, name).get_db_prep_save(value, connection)


class Columns:
    """A model's columns under a table alias in a hand-written SELECT, and the way back
    from a row's slice to an instance (the ORM compiler's converters, then from_db).
    `skip` leaves columns out (they load lazily, like `.defer()`)."""

    def __init__(self, model: type[Model], alias: str, *, skip: Iterable[str] = ()):
        skipped = set(skip)
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.attname not in skipped]
        self.attnames = [f.attname for f in self.fields]
        self.sql = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self._converters: list[tuple[int, list[Callable[..., Any]], Any]] = []
        for i, f in enumerate(self.fields):
            col = f.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self._converters.append((i, found, col))

    def __len__(self) -> int:
        return len(self.fields)

    def index(self, attname: str) -> int:
        return self.attnames.index(attname)

    def instance(self, raw: Sequence[Any]) -> Any:
        values = list(raw)
        for i, converters, col in self._converters:
            for convert in converters:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


@cache
def _update_sql(
    model: type[Model], names: tuple[str, ...], increment: tuple[str, ...], where: str, vendor: str
) -> str:
    sets = [f"{column(model, n)} = %s" for n in names]
    sets += [f"{column(model, n)} = {column(model, n)} + 1" for n in increment]
    return f"UPDATE {table(model)} SET {', '.join(sets)} WHERE {where}"  # noqa: S608


def update_statement(
    model: type[Model],
    values: Mapping[str, Any],
    *,
    where: str,
    params: Sequence[Any],
    increment: tuple[str, ...] = (),
) -> tuple[str, list[Any]]:
    """The SQL and arguments of `rows_update` (to run it, or to batch it, see
    integrations.delivery.load)."""
    names = tuple(values)
    sql = _update_sql(model, names, increment, where, connection.vendor)
    return sql, [*(prep(model, n, values[n]) for n in names), *params]


# PostgreSQL: commit this write without waiting for its WAL to reach the disk
# (https://www.postgresql.org/docs/current/wal-async-commit.html). It is visible to
# every other session at once and a crash of a worker loses nothing; only a crash of
# the database server itself may lose the last fraction of a second of such commits,
# never the database's consistency. The engine uses it for writes whose loss costs no
# more than a repeated, idempotent CRM call (the claim, the progress between calls);
# the outcome always commits durably. Sent in the same round trip as the write, see
# `committed_asynchronously`.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"


def asynchronous_commit() -> bool:
    """Whether this database can commit a write asynchronously (PostgreSQL; not
    SQLite)."""
    return connection.vendor == "postgresql"


def hot_cursor() -> Any:
    """A cursor for the engine's hot statements, which run at every delivery with the
    same text. On PostgreSQL the values are bound on the server and each statement is
    prepared once per connection (psycopg's prepared statements,
    https://www.psycopg.org/psycopg3/docs/advanced/prepare.html), so the database plans
    it once instead of at every delivery: planning the claim and the load alone costs
    about 2 ms of the database server's CPU, which the workers wait for. Statements are
    prepared only where the settings allow it (DATABASE_PREPARED_STATEMENTS). On other
    databases this is Django's cursor. Django's query log and execute wrappers see these
    statements as any other."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = _prepared_cursor_class()(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


@cache
def _prepared_cursor_class() -> type:
    from django.db.backends.postgresql.base import (  # type: ignore[attr-defined]
        ServerBindingCursor,  # psycopg 3: values bound on the server
    )

    class PreparedCursor(ServerBindingCursor):  # type: ignore[misc]
        """Prepares every statement it runs (psycopg does so only when the
        connection's prepare_threshold is set, see leadflow.settings)."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, prepare=True, **kwargs)

    return PreparedCursor


@contextmanager
def committed_asynchronously() -> Iterator[None]:
    """PostgreSQL, in autocommit mode: the block's statements go out in one pipeline
    (one round trip, see `pipelined`) behind ASYNC_COMMIT; the statements of one
    pipeline form one implicit transaction, which SET LOCAL applies to. Elsewhere,
    nothing changes."""
    if not asynchronous_commit():
        yield
        return
    with pipelined():
        with hot_cursor() as cursor:
            cursor.execute(ASYNC_COMMIT)
        yield


def rows_update(
    model: type[Model],
    values: Mapping[str, Any],
    *,
    where: str,
    params: Sequence[Any],
    increment: tuple[str, ...] = (),
    durable: bool = True,
) -> int:
    """UPDATE `model` SET values (and `increment`ed columns) WHERE `where` (SQL with %s
    for `params`, which must be prepared already, see `prep`). Returns the number of
    rows changed. `durable=False`: an asynchronous commit where the database has one
    (see ASYNC_COMMIT); meaningful only in autocommit mode."""
    sql, args = update_statement(model, values, where=where, params=params, increment=increment)
    with hot_cursor() as cursor:
        if durable:
            cursor.execute(sql, args)
        else:
            with committed_asynchronously():
                cursor.execute(sql, args)
        return int(cursor.rowcount)


def rows_update_counted_later(
    model: type[Model], values: Mapping[str, Any], *, where: str, params: Sequence[Any]
) -> Callable[[], int]:
    """`rows_update` inside `pipelined()`: sends the UPDATE and returns what tells the
    number of rows changed once the pipeline has been answered."""
    sql, args = update_statement(model, values, where=where, params=params)
    cursor = hot_cursor()
    cursor.execute(sql, args)

    def count() -> int:
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    return count


@contextmanager
def pipelined() -> Iterator[None]:
    """PostgreSQL: the block's statements are sent without waiting for each answer and
    answered together when it ends (psycopg's pipeline mode,
    https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html); a statement whose
    rows are fetched inside the block waits for its answer. Elsewhere, nothing changes.
    Errors the database answers at the end come out as Django's, as from a cursor.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@cache
def _insert_sql(
    model: type[Model], rows: int, vendor: str
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    one = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
        f" VALUES {', '.join([one] * rows)}"
    )
    return sql, fields


def rows_insert(objs: Sequence[Model]) -> None:
    """INSERT unsaved instances of one model in one statement (as bulk_create does, with
    each field's defaults and conversions; their primary keys are not read back)."""
    if not objs:
        return
    sql, fields = _insert_sql(type(objs[0]), len(objs), connection.vendor)
    params = [
        f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in fields
    ]
    with hot_cursor() as cursor:
        cursor.execute(sql, params)


__all__ = [
    "ASYNC_COMMIT",
    "Columns",
    "asynchronous_commit",
    "column",
    "committed_asynchronously",
    "hot_cursor",
    "prep",
    "quote",
    "rows_insert",
    "pipelined",
    "rows_update",
    "rows_update_counted_later",
    "table",
    "update_statement",
]
