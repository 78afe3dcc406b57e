"""Plain SQL for the engine's hot path, written once per process and run many times.

A delivery is a handful of statements (claim, load, record). Through the ORM each one
spends more time in Python building its SQL (0.5-3 ms under load) than the database
spends running it, so the engine writes these few statements itself, from the models'
own metadata (table and column names, and each field's conversions to and from the
database), and reuses the text: values still go through `Field.get_db_prep_save` (or
its short way for the common kinds, `saver`, which gives the same values) and come
back through the converters the ORM's compiler would apply, so what is stored
and read is exactly what the ORM would store and read, on PostgreSQL and SQLite alike.

A delivery's statements go out in few round trips: the claim with its reads, each
progress write, the outcome's writes, each a batch (`rows_batch`). A progress write need
not be waited for at once: `rows_send` sends it and returns, and its answer is read
just before the next CRM call goes out (see integrations.delivery.progress), so the
database works on it while the worker takes the call's rate-limit slot and prepares it.

Everything else (admin, sweeper, reports, tests) uses the ORM.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import select
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models, transaction
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result
from psycopg.pq import ExecStatus

from .literals import Literals


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


def default_connection() -> Any:
    """The default database's connection itself: `django.db.connection` is a proxy that
    looks it up again at every attribute (a thread-local lookup), and the ORM's value
    conversions consult it several times per value."""
    return connections[DEFAULT_DB_ALIAS]


def prep(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the ORM would send it for field `name` of `model`."""
    return saver(_field(model, name))(value, default_connection())


Saver = Callable[[Any, Any], Any]


@cache
def saver(field: Field[Any, Any]) -> Saver:
    """`field.get_db_prep_save` as a function of (value, connection), with a short way
    for the kinds of value the engine writes most: for those, Django's generic layers
    (expression and lazy-string checks, `to_python`) hand the value through unchanged,
    so only the backend's own adaptation is left, called as Django calls it (see
    django.db.models.fields: CharField, IntegerField, BooleanField, DateTimeField and
    JSONField's get_db_prep_value). By exact field class: a subclass (an encrypted
    text field) may convert otherwise. `tests/delivery/test_rows_prep.py` checks that
    both ways give the same value."""
    save = field.get_db_prep_save
    kind = type(field)
    if kind in _TEXT_FIELDS:
        return lambda value, db: value if type(value) is str else save(value, db)
    if kind in _INTEGER_FIELDS:
        internal = field.get_internal_type()
        return lambda value, db: (
            db.ops.adapt_integerfield_value(value, internal)
            if type(value) is int
            else save(value, db)
        )
    if kind is models.BooleanField:
        return lambda value, db: value if type(value) is bool else save(value, db)
    if kind is models.DateTimeField:  # aware: no naive-datetime conversion to make
        return lambda value, db: (
            db.ops.adapt_datetimefield_value(value)
            if type(value) is datetime and value.tzinfo is not None
            else save(value, db)
        )
    if kind is models.JSONField:
        encoder = field.encoder  # type: ignore[attr-defined]
        return lambda value, db: (
            db.ops.adapt_json_value(value, encoder)
            if type(value) in (dict, list)
            else save(value, db)
        )
    return save


_TEXT_FIELDS = (models.CharField, models.TextField)
_INTEGER_FIELDS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)


class Columns:
    """A model's columns under a table alias in a hand-written SELECT, and the way back
    from a row's slice to an instance (the ORM compiler's converters, then the instance
    as `Model.from_db` makes it). `skip` leaves columns out (they load lazily, like
    `.defer()`)."""

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
        # Whether anything listens for the model's instances being made (then they are
        # made through Model.__init__, which sends those signals).
        self._init_observed = pre_init.has_listeners(model) or post_init.has_listeners(model)

    def __len__(self) -> int:
        return len(self.fields)

    def index(self, attname: str) -> int:
        return self.attnames.index(attname)

    def instance(self, raw: Sequence[Any], db: Any) -> Any:
        """The instance of one row's slice; `db` is `default_connection()`, looked up
        once by the caller for all of a row's instances."""
        values = list(raw)
        for i, converters, col in self._converters:
            for convert in converters:
                values[i] = convert(values[i], col, db)
        if self._init_observed:
            return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)
        # What Model.__init__ leaves on a new instance of loaded values (its state and
        # one attribute per column; the skipped ones stay deferred), without its
        # per-field descriptor calls: a third of the load's CPU for its six instances.
        made = self.model.__new__(self.model)
        made._state = ModelState()
        made._state.adding, made._state.db = False, DEFAULT_DB_ALIAS
        made.__dict__.update(zip(self.attnames, values, strict=True))
        return made


@dataclass(frozen=True)
class Statement:
    """One SQL statement (%s placeholders) and its arguments, prepared for the database
    already (see `prep`)."""

    sql: str
    params: Sequence[Any]


@dataclass(frozen=True)
class Answer:
    """What one statement of a batch answered: how many rows it changed (a write) or
    returned (a read), and the rows it returned."""

    rowcount: int
    rows: list[tuple[Any, ...]]


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
) -> Statement:
    """UPDATE `model` SET values (and `increment`ed columns) WHERE `where` (SQL with %s
    for `params`, which must be prepared already, see `prep`)."""
    names, db = tuple(values), default_connection()
    sql = _update_sql(model, names, increment, where, db.vendor)
    prepared = [saver(_field(model, n))(values[n], db) for n in names]
    return Statement(sql, [*prepared, *params])


# PostgreSQL: commit this write without waiting for its WAL to reach the disk
# (https://www.postgresql.org/docs/current/wal-async-commit.html). It is visible to
# every other session at once and a crash of a worker loses nothing; only a crash of
# the database server itself may lose the last fraction of a second of such commits,
# never the database's consistency. The engine uses it for writes whose loss costs no
# more than a repeated, idempotent CRM call (the claim, the results saved between
# calls); a call's sent mark and the outcome always commit durably.
ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"


def rows_batch(statements: Sequence[Statement], *, durable: bool = True) -> list[Answer]:
    """Run `statements` in order, as one transaction (or within the one open), and
    return each one's answer: they commit or fail together.

    On PostgreSQL they go out as one query of several statements: one round trip, and
    Python's work is one execute instead of one per statement. PostgreSQL runs such a
    query as one transaction when none is open (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-MULTI-STATEMENT),
    and `durable=False` commits it asynchronously (ASYNC_COMMIT). Each statement is
    prepared once per connection (see `_executable`). In autocommit mode the query goes
    out and is answered through libpq's calls (`_send`, `_answers`), as `rows_send`'s
    do, rather than through a cursor, whose Python costs more than loading the batch's
    rows; inside a transaction, through Django's cursor, which begins it. Elsewhere they
    run one by one in a transaction. A batch still in flight (`rows_send`) is answered first.
    """
    rows_settle()
    db = default_connection()
    if db.vendor != "postgresql":
        with transaction.atomic(using=db.alias), db.cursor() as cursor:
            answers = []
            for statement in statements:
                cursor.execute(statement.sql, statement.params)
                rows = cursor.fetchall() if cursor.description else []
                answers.append(Answer(cursor.rowcount, rows))
            return answers
    query = _batch_query(db, statements, durable=durable)
    if db.get_autocommit():
        _send(db, query)
        return _answers(db, durable=durable)
    with db.cursor() as cursor:  # in a transaction: psycopg's cursor begins it if need be
        cursor.execute(query)
        raw = cursor.cursor  # psycopg's own: its answers, one per statement
        with db.wrap_database_errors:
            if not durable:
                raw.nextset()  # past SET LOCAL's answer
            answers = []
            for _ in statements:
                returned = raw.pgresult is not None and raw.pgresult.status == ExecStatus.TUPLES_OK
                answers.append(Answer(raw.rowcount, raw.fetchall() if returned else []))
                raw.nextset()
        return answers


def _batch_query(db: Any, statements: Sequence[Statement], *, durable: bool) -> bytes:
    """The one query of a batch on PostgreSQL (see `rows_batch`)."""
    db.ensure_connection()
    literal = _literals.get(db.connection)
    if literal is None:
        literal = _literals[db.connection] = Literals(db.connection)
    parts = [] if durable else [ASYNC_COMMIT.encode()]
    for statement in statements:
        parts.append(_executable(db, statement.sql, [literal(p) for p in statement.params]))
    # The values are in the text already, as psycopg's client-side binding writes them
    # (https://www.psycopg.org/psycopg3/docs/basic/from_pg2.html#client-side-binding-cursors):
    # psycopg would otherwise parse the whole batch for its placeholders at every call
    # (it caches that only for statements with at most 50 of them).
    return b"; ".join(parts)


# Each connection's writer of SQL literals (PostgreSQL).
_literals: weakref.WeakKeyDictionary[Any, Literals] = weakref.WeakKeyDictionary()


class Sent:
    """A batch of writes sent by `rows_send`: `answers()` waits for the database's
    answers (at once if they came already) and raises what the batch raised."""

    def __init__(self, answers: list[Answer] | None = None, *, durable: bool = True) -> None:
        self._answers = answers
        self.durable = durable  # False: its query opens with ASYNC_COMMIT, answered first
        self._error: BaseException | None = None

    def answers(self) -> list[Answer]:
        if self._answers is None and self._error is None:
            rows_settle()
        if self._error is not None:
            raise self._error
        assert self._answers is not None
        return self._answers


# The batch each connection (PostgreSQL) has sent and not yet read the answers of.
_in_flight: weakref.WeakKeyDictionary[Any, Sent] = weakref.WeakKeyDictionary()


def rows_send(statements: Sequence[Statement], *, durable: bool = True) -> Sent:
    """`rows_batch` for writes whose answers can wait: on PostgreSQL in autocommit mode
    the batch is handed to the database and this returns at once; its answers are read
    by `Sent.answers()`, or by the connection's next use through this module
    (`rows_batch`, `rows_send`, `rows_settle`). Anything else that uses the connection
    while a batch is in flight must call `rows_settle` first. Elsewhere (SQLite, inside
    a transaction) the batch runs at once.

    The batch is in the database server's hands when this returns (its bytes are in
    the socket), so a worker killed right after still has it written."""
    db = default_connection()
    if db.vendor != "postgresql" or db.in_atomic_block:
        return Sent(rows_batch(statements, durable=durable))
    rows_settle()
    _send(db, _batch_query(db, statements, durable=durable))
    sent = Sent(durable=durable)
    _in_flight[db.connection] = sent
    return sent


def _send(db: Any, query: bytes) -> None:
    """Hand `query` to the database (PostgreSQL) without waiting for its answers,
    through the connection's execute wrappers as Django runs any query, and in its
    query log when that is kept (DEBUG; with no time, its answer being read later)."""
    pgconn = db.connection.pgconn

    def send(sql: bytes, *_: Any) -> None:
        with db.wrap_database_errors:
            pgconn.send_query(sql)
            while pgconn.flush():  # psycopg's connections are non-blocking
                _wait(pgconn.socket, select.POLLOUT)

    execute: Callable[..., None] = send
    for wrapper in reversed(db.execute_wrappers):
        execute = functools.partial(wrapper, execute)
    execute(query, None, False, {"connection": db, "cursor": None})
    if db.queries_logged:
        db.queries_log.append({"sql": query.decode(errors="replace"), "time": "0.000"})


def rows_settle() -> None:
    """Read the answers of the batch in flight on the default connection, if any (see
    `rows_send`). A failed batch raises here too, as Django's error."""
    if not _in_flight:
        return
    db = default_connection()
    sent = _in_flight.pop(db.connection, None) if db.connection is not None else None
    if sent is None:
        return
    try:
        sent._answers = _answers(db, durable=sent.durable)
    except BaseException as exc:
        sent._error = exc  # as `answers()` raises it again
        raise


def _answers(db: Any, *, durable: bool) -> list[Answer]:
    """The answers of the batch sent on `db` (see `_send`), one per statement, with
    the rows of those that return rows (loaded as psycopg's cursor loads them, by the
    connection's own loaders). A failed batch raises Django's error."""
    raw = db.connection
    try:
        with db.wrap_database_errors:
            results = _results(raw.pgconn)
            failed = next((r for r in results if r.status == ExecStatus.FATAL_ERROR), None)
            if failed is not None:
                raise error_from_result(failed, encoding=raw.info.encoding)
    except BaseException as exc:
        if not isinstance(exc, DatabaseError):  # interrupted mid-answer (a time limit):
            db.close()  # what is left unread would trip the next query; reconnect instead
        raise
    answers, loader = [], None
    for result in results if durable else results[1:]:  # past SET LOCAL's answer
        if result.status == ExecStatus.TUPLES_OK:
            # One loader for every result of the batch, as psycopg's cursor keeps one
            # across its results (set_pgresult per result).
            loader = loader or Transformer.from_context(raw)
            loader.set_pgresult(result)
            answers.append(Answer(result.ntuples, loader.load_rows(0, result.ntuples, tuple)))
        else:
            answers.append(Answer(result.command_tuples or 0, []))
    return answers


def _results(pgconn: Any) -> list[Any]:
    """Every result of the query in flight on `pgconn` (libpq's asynchronous API,
    https://www.postgresql.org/docs/current/libpq-async.html)."""
    results: list[Any] = []
    while True:
        while pgconn.is_busy():
            _wait(pgconn.socket, select.POLLIN)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            return results
        results.append(result)


def _wait(fileno: int, event: int) -> None:
    poll = select.poll()
    poll.register(fileno, event)
    poll.poll()


# The statements each connection has prepared (PostgreSQL), by name.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _executable(db: Any, sql: str, literals: list[bytes]) -> bytes:
    """`sql` with its values (`literals`) as this connection runs it: `EXECUTE
    name(values)` of a statement prepared once per connection (PREPARE,
    https://www.postgresql.org/docs/current/sql-prepare.html), so the server plans it
    once instead of at every delivery (planning the load's seven-table SELECT costs 1 ms
    of the database's CPU, running it 0.2 ms); the statement itself when
    settings.DATABASE_PREPARED_STATEMENTS is off (behind a connection pooler that cannot
    keep prepared statements)."""
    name, numbered, template = _named(sql)
    if not settings.DATABASE_PREPARED_STATEMENTS:
        return template % tuple(literals)
    done = _prepared.setdefault(db.connection, set())
    if name not in done:
        with db.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {numbered}")
        done.add(name)
    head = f"EXECUTE {name}".encode()
    return head + b"(" + b", ".join(literals) + b")" if literals else head


@cache
def _named(sql: str) -> tuple[str, str, bytes]:
    """A name for `sql` (from its text), its text with $1, $2, ... for %s, and its
    text as a bytes template for its values' literals."""
    numbers = itertools.count(1)
    numbered = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
    name = f"leadflow_{hashlib.sha1(sql.encode()).hexdigest()[:16]}"
    return name, numbered, sql.encode()


def rows_update(
    model: type[Model],
    values: Mapping[str, Any],
    *,
    where: str,
    params: Sequence[Any],
    increment: tuple[str, ...] = (),
    durable: bool = True,
) -> int:
    """Run `update_statement`; returns the number of rows changed. `durable=False`: an
    asynchronous commit where the database has one (see ASYNC_COMMIT); meaningful only
    in autocommit mode."""
    statement = update_statement(model, values, where=where, params=params, increment=increment)
    return rows_batch([statement], durable=durable)[0].rowcount


@cache
def _insert_sql(
    model: type[Model], rows: int, vendor: str
) -> tuple[str, tuple[tuple[str, Saver], ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    one = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
        f" VALUES {', '.join([one] * rows)}"
    )
    return sql, tuple((f.attname, saver(f)) for f in fields)


def insert_statement(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> Statement:
    """INSERT `rows` of `model` in one statement, each a value for every column but the
    primary key (by attname, e.g. "delivery_id"), converted by each field as
    bulk_create converts them (no field's `pre_save` runs: every value is given). Plain
    values, not instances: making and reading an instance per row costs more than its
    row's SQL (its primary key would not be read back anyway)."""
    db = default_connection()
    sql, savers = _insert_sql(model, len(rows), db.vendor)
    return Statement(sql, [save(row[name], db) for row in rows for name, save in savers])


__all__ = [
    "ASYNC_COMMIT",
    "Answer",
    "Columns",
    "Sent",
    "Statement",
    "column",
    "default_connection",
    "insert_statement",
    "prep",
    "quote",
    "rows_batch",
    "rows_send",
    "rows_settle",
    "rows_update",
    "saver",
    "table",
    "update_statement",
]
