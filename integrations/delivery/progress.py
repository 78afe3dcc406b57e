"""A delivery's record of completed CRM operations, kept on the delivery row.

Each save is one UPDATE in autocommit mode, made between two CRM calls and never
inside a transaction that spans one, and only while this worker holds the lease: a
worker whose lease ran out (another took the delivery over) stops before its next
call instead of racing the new owner (the UPDATE's answer is read before that call).
What the last operations left unsaved (`Operations.unsaved`) is written by the engine
with the outcome.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import DatabaseError, connection

from integrations.crm.base import CrmError
from integrations.crm.operations import Operations
from integrations.models import Delivery, DeliveryStatus

from .rows import Sent, Statement, column, rows_send, update_statement


def lease_held() -> str:
    """The WHERE clause of a write only the lease holder may make (params: the
    delivery's id, the owner, DeliveryStatus.IN_PROGRESS)."""
    return _lease_held(connection.vendor)


@cache
def _lease_held(vendor: str) -> str:
    return (
        f"{column(Delivery, 'id')} = %s AND {column(Delivery, 'lease_owner')} = %s"
        f" AND {column(Delivery, 'status')} = %s"
    )


def lease_checked(update: Statement) -> Statement:
    """`update`, a write of the delivery's row WHERE `lease_held()`, made to fail on
    PostgreSQL when it changed no row because this worker no longer holds the lease: it
    then fails the batch it leads as a whole (see .rows.rows_batch), and `lease_lost`
    tells that failure from others. PostgreSQL has no statement that raises an error on
    a condition outside procedural code; a division by a count that is zero does
    (SQLSTATE 22012)."""
    return Statement(_checked_sql(update.sql), update.params)


@cache
def _checked_sql(sql: str) -> str:
    return f"WITH changed AS ({sql} RETURNING 1) SELECT 1 / count(*) FROM changed"  # noqa: S608


def lease_lost(error: DatabaseError) -> bool:
    """Whether `error` is the failure of a `lease_checked` write."""
    return getattr(error.__cause__, "sqlstate", None) == "22012"


def delivery_operations(*, delivery: Delivery, owner: str) -> Operations:
    """The delivery's operations as earlier tries left them, saving each change.

    A save is sent without waiting (`rows_send`); its answer is read when the
    operations settle, which the CRM session does just before the next call goes out
    (see integrations.crm.http): the database writes it while the worker takes the
    call's rate-limit slot and prepares the request, and a worker that lost its lease
    still stops before that call."""
    in_flight: Sent | None = None

    def save(state: dict[str, Any]) -> None:
        nonlocal in_flight
        settle()
        marked = _marks_a_call(saved=delivery.progress, state=state)
        in_flight = rows_send(
            [
                update_statement(
                    Delivery,
                    {"progress": state},
                    where=lease_held(),
                    params=[delivery.pk, owner, DeliveryStatus.IN_PROGRESS],
                )
            ],
            # Lost with the database server, a result only means a repeated
            # (idempotent) call; a sent mark must not be lost (see _marks_a_call), nor
            # the outcome, which is recorded durably (see .rows).
            durable=marked,
        )
        delivery.progress = state

    def settle() -> None:
        nonlocal in_flight
        if in_flight is None:
            return
        written, in_flight = in_flight, None
        if not written.answers()[0].rowcount:
            raise CrmError("lease lost", retryable=True)

    return Operations(delivery.progress, save=save, settle=settle)


def _marks_a_call(*, saved: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether `state` marks an operation as sent that `saved` (the last state written)
    did not: it goes ahead of a call that must not be repeated blindly (a create, a
    note), which a retry looks for before making it again only because of that mark.
    Such a write commits durably, and its answer is read before the call goes out, so
    the mark survives even a crash of the database server; the other progress writes
    commit asynchronously (a database crash that loses one costs a repeated,
    idempotent call)."""
    before = saved.get("sent") if isinstance(saved, dict) else None
    return bool(set(state.get("sent") or ()) - set(before or ()))
