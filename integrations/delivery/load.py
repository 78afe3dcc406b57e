"""Loading a claimed delivery with everything its attempt reads, in one SELECT.

The delivery comes back with its lead, step, the step's flow and account and the
lead's source attached (no lazy query follows), plus what the engine would otherwise
ask in separate queries: whether filter steps precede the step (flow_gate), whether
enabled steps follow it (flow_advance), whether the lead has earlier outcomes (the
mapping context's `steps`), and the step's latest version (Delivery.step_revision).
`config_stamp` holds the raw column values a step's mapping configuration is made of
(integrations.mapping.selectors.STEP_CONFIG_COLUMNS), for the per-process cache of
configurations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connection
from reversion.models import Version

from integrations.mapping.selectors import (
    ACCOUNT_CONFIG_COLUMNS,
    FLOW_CONFIG_COLUMNS,
    STEP_CONFIG_COLUMNS,
    step_parts_sql,
)
from integrations.models import Account, Delivery, Flow, Lead, Source, Step, StepKind

from .claim import claim_statement
from .rows import Columns, Statement, column, default_connection, rows_batch, table


@dataclass(frozen=True)
class Loaded:
    delivery: Delivery
    filters_before: bool
    later_steps: bool
    earlier_outcomes: bool
    revision_id: int | None
    config_stamp: tuple[Any, ...]
    # The step's configuration rows, when they were read with the delivery (see
    # delivery_claim_load); None: delivery_map reads them.
    config_parts: tuple[tuple[Any, ...], ...] | None = None


@dataclass(frozen=True)
class _Query:
    sql: str
    delivery: Columns
    lead: Columns
    step: Columns
    flow: Columns
    account: Columns
    source: Columns


@cache
def _query(vendor: str) -> _Query:
    parts = _Query(
        "",
        Columns(Delivery, "d"),
        # The raw payload is for people; the engine maps `fields`.
        Columns(Lead, "l", skip=("payload",)),
        Columns(Step, "s"),
        Columns(Flow, "f"),
        Columns(Account, "a"),
        Columns(Source, "src"),
    )

    def s(name: str) -> str:
        return f"s.{column(Step, name)}"

    def o(alias: str, name: str) -> str:
        return f"{alias}.{column(Step, name)}"

    steps, deliveries, versions = table(Step), table(Delivery), table(Version)
    text = "TEXT" if vendor != "postgresql" else "varchar"
    sql = f"""
        SELECT {parts.delivery.sql}, {parts.lead.sql}, {parts.step.sql}, {parts.flow.sql},
          {parts.account.sql}, {parts.source.sql},
          EXISTS (SELECT 1 FROM {steps} o WHERE {o("o", "flow")} = {s("flow")}
            AND {o("o", "enabled")} = %s AND {o("o", "kind")} = %s
            AND {o("o", "position")} < {s("position")}),
          EXISTS (SELECT 1 FROM {steps} o WHERE {o("o", "flow")} = {s("flow")}
            AND {o("o", "enabled")} = %s AND {o("o", "position")} > {s("position")}),
          EXISTS (SELECT 1 FROM {deliveries} e
            WHERE e.{column(Delivery, "lead")} = d.{column(Delivery, "lead")}
            AND e.{column(Delivery, "step")} <> d.{column(Delivery, "step")}
            AND e.{column(Delivery, "outcome")} <> ''),
          (SELECT v.{column(Version, "revision")} FROM {versions} v
            WHERE v.{column(Version, "db")} = %s
            AND v.{column(Version, "content_type")} = %s
            AND v.{column(Version, "object_id")} = CAST({s("id")} AS {text})
            ORDER BY v.{column(Version, "revision")} DESC LIMIT 1)
        FROM {deliveries} d
        JOIN {table(Lead)} l ON l.{column(Lead, "id")} = d.{column(Delivery, "lead")}
        JOIN {table(Step)} s ON {s("id")} = d.{column(Delivery, "step")}
        JOIN {table(Flow)} f ON f.{column(Flow, "id")} = {s("flow")}
        JOIN {table(Source)} src ON src.{column(Source, "id")} = l.{column(Lead, "source")}
        LEFT JOIN {table(Account)} a ON a.{column(Account, "id")} = {s("account")}
        WHERE d.{column(Delivery, "id")} = %s
    """  # noqa: S608 - names from the models' metadata
    return _Query(sql, *[getattr(parts, n) for n in _COLUMNS])


_COLUMNS = ("delivery", "lead", "step", "flow", "account", "source")


def delivery_load(*, delivery_id: int) -> Loaded | None:
    """The delivery and everything its attempt reads (None: no such delivery)."""
    query = _query(connection.vendor)
    [answer] = rows_batch([Statement(query.sql, _params(delivery_id))])
    return _loaded(query, answer.rows[0]) if answer.rows else None


def delivery_claim_load(*, delivery_id: int, owner: str, now: datetime) -> Loaded | None:
    """Claim the delivery (integrations.delivery.claim) and load it as delivery_load
    does, with the step's configuration rows (integrations.mapping.selectors.
    step_parts_raw); None when it could not be claimed (someone else has it, or it is not
    due) or no longer exists.

    One batch (see .rows.rows_batch): on PostgreSQL one round trip and one transaction,
    committed asynchronously (a claim lost with the database server only means the
    delivery is claimed again).
    """
    query = _query(connection.vendor)
    claimed, load, config = rows_batch(
        [
            claim_statement(delivery_id=delivery_id, owner=owner, now=now),
            Statement(query.sql, _params(delivery_id)),
            Statement(step_parts_sql(connection.vendor, _step_of_delivery()), [delivery_id] * 3),
        ],
        durable=False,
    )
    if claimed.rowcount != 1 or not load.rows:
        return None
    return replace(_loaded(query, load.rows[0]), config_parts=tuple(config.rows))


@cache
def _step_of_delivery() -> str:
    return (
        f"(SELECT {column(Delivery, 'step')} FROM {table(Delivery)}"  # noqa: S608
        f" WHERE {column(Delivery, 'id')} = %s)"
    )


def _params(delivery_id: int) -> list[Any]:
    step_type = ContentType.objects.get_for_model(Step)  # cached by Django
    return [True, StepKind.FILTER, True, DEFAULT_DB_ALIAS, step_type.pk, delivery_id]


def _loaded(query: _Query, row: Sequence[Any]) -> Loaded:
    slices: dict[str, tuple[Any, ...]] = {}
    at = 0
    for name in _COLUMNS:
        width = len(getattr(query, name))
        slices[name], at = tuple(row[at : at + width]), at + width
    filters_before, later_steps, earlier, revision_id = row[at:]
    db = default_connection()
    delivery: Delivery = query.delivery.instance(slices["delivery"], db)
    lead: Lead = query.lead.instance(slices["lead"], db)
    step: Step = query.step.instance(slices["step"], db)
    flow: Flow = query.flow.instance(slices["flow"], db)
    source: Source = query.source.instance(slices["source"], db)
    account: Account | None = None
    if slices["account"][query.account.index("id")] is not None:
        account = query.account.instance(slices["account"], db)
    # Attached as select_related attaches them (the related object's cache), the ids
    # being those of the same row already.
    _attach(Step, "flow", step, flow)
    _attach(Step, "account", step, account)
    if lead.flow_id == flow.pk:
        _attach(Lead, "flow", lead, flow)
    _attach(Lead, "source", lead, source)
    _attach(Delivery, "lead", delivery, lead)
    _attach(Delivery, "step", delivery, step)
    stamp = tuple(slices[part][i] for part, i in _stamp_columns(query))
    return Loaded(
        delivery=delivery,
        filters_before=bool(filters_before),
        later_steps=bool(later_steps),
        earlier_outcomes=bool(earlier),
        revision_id=revision_id,
        config_stamp=stamp,
    )


def _attach(model: type[Any], name: str, instance: Any, related: Any) -> None:
    model._meta.get_field(name).set_cached_value(instance, related)


@cache
def _stamp_columns(query: _Query) -> tuple[tuple[str, int], ...]:
    """Where the config stamp's values are in a row's slices (see Loaded)."""
    return (
        *(("step", query.step.index(n)) for n in STEP_CONFIG_COLUMNS),
        *(("flow", query.flow.index(n)) for n in FLOW_CONFIG_COLUMNS),
        *(("account", query.account.index(n)) for n in ACCOUNT_CONFIG_COLUMNS),
    )


__all__ = ["Loaded", "delivery_claim_load", "delivery_load"]
