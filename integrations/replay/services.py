"""Starting, cancelling and describing replays; editing a lead's fields before one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max, QuerySet, Value, Window
from django.db.models.functions import RowNumber

from integrations.audit.services import audit_record
from integrations.models import (
    AuditAction,
    Delivery,
    DeliveryStatus,
    ItemState,
    Lead,
    LeadRevision,
    Outcome,
    Replay,
    ReplayItem,
    ReplayKind,
    ReplayState,
)

# Rows written per INSERT/UPDATE when a replay holds many deliveries: short
# statements, so nothing else waits on them.
BATCH = 2_000
REPLAYABLE = (Outcome.FAILURE, Outcome.ERROR)


@dataclass(frozen=True)
class ReplayRequest:
    """What the user asked for. `deliveries` may be a queryset of any size."""

    kind: str
    deliveries: QuerySet[Delivery]
    description: str = ""
    include_succeeded: bool = False


def replay_selection(
    *, deliveries: QuerySet[Delivery], include_succeeded: bool
) -> QuerySet[Delivery]:
    """The deliveries a replay will send again: finished ones (a delivery still pending
    or being worked is already on its way), failures and errors, and successes only
    when the user confirmed them."""
    outcomes = [*REPLAYABLE, Outcome.SUCCESS] if include_succeeded else list(REPLAYABLE)
    return deliveries.filter(status=DeliveryStatus.DONE, outcome__in=outcomes)


def succeeded_count(*, deliveries: QuerySet[Delivery]) -> int:
    """How many of these deliveries succeeded (the confirmation asks about them)."""
    return deliveries.filter(status=DeliveryStatus.DONE, outcome=Outcome.SUCCESS).count()


def replay_create(*, user: Any, request: ReplayRequest) -> Replay:
    """Record the replay and its items (in batches), audit it, and start releasing
    after commit. Returns the replay (total may be 0: nothing matched)."""
    from .tick import replay_kick

    selection = replay_selection(
        deliveries=request.deliveries, include_succeeded=request.include_succeeded
    )
    with transaction.atomic():
        replay = Replay.objects.create(
            kind=request.kind,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            description=request.description[:500],
            include_succeeded=request.include_succeeded,
        )
        total = _items_insert(replay=replay, selection=selection)
        replay.total = total
        accounts = (
            ReplayItem.objects.filter(replay=replay).values_list("account_id", flat=True).distinct()
        )
        replay.pacing = {str(a) if a else "none": {} for a in accounts}
        if not total:
            replay.state = ReplayState.FINISHED
            replay.finished_at = replay.created_at
        replay.save(update_fields=["total", "state", "finished_at", "pacing"])
        audit_record(
            actor=user,
            action=AuditAction.REPLAY,
            summary=f"replay #{replay.pk} of {total} "
            f"deliver{'y' if total == 1 else 'ies'} ({replay.get_kind_display().lower()}"
            + (f"; {request.description}" if request.description else "")
            + ("; including successes" if request.include_succeeded else "")
            + ")",
            object_type="integrations.replay",
            object_id=replay.pk,
        )
        if total:
            replay_kick(replay_id=replay.pk, now=True)
    return replay


def _items_insert(*, replay: Replay, selection: QuerySet[Delivery]) -> int:
    """One item per lead: its earliest selected step (the lead's later steps are
    reached through the flow, in order; see tick.py). Written by the database in one
    INSERT ... SELECT, so 100,000 items cost one statement, not 100,000 round trips."""
    first_per_lead = selection.annotate(
        lead_rank=Window(
            RowNumber(),
            partition_by=[F("lead_id")],
            order_by=[F("step__position").asc(), F("pk").asc()],
        )
    ).filter(lead_rank=1)
    rows = first_per_lead.annotate(replay_ref=Value(replay.pk)).values_list(
        "replay_ref", "pk", "step__account_id"
    )
    sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(ReplayItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (replay_id, delivery_id, account_id) {sql}",  # noqa: S608 - compiled by the ORM
            params,
        )
        return cursor.rowcount


def replay_cancel(*, replay_id: int, user: Any) -> int:
    """Stop what has not started: queued items are cancelled (in batches); deliveries
    already released finish normally. Returns how many items were cancelled."""
    with transaction.atomic():
        replay = Replay.objects.select_for_update().get(pk=replay_id)
        if replay.state != ReplayState.RUNNING:
            return 0
        replay.state = ReplayState.CANCELLING
        replay.cancelled_by = user if getattr(user, "is_authenticated", False) else None
        replay.save(update_fields=["state", "cancelled_by"])
    cancelled = 0
    while True:
        with transaction.atomic():
            ids = list(
                ReplayItem.objects.filter(replay_id=replay_id, state=ItemState.QUEUED)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            n = ReplayItem.objects.filter(pk__in=ids, state=ItemState.QUEUED).update(
                state=ItemState.CANCELLED, note="cancelled before it started"
            )
            cancelled += n
            Replay.objects.filter(pk=replay_id).update(cancelled=F("cancelled") + n)
    audit_record(
        actor=user,
        action=AuditAction.REPLAY,
        summary=f"replay #{replay_id} cancelled ({cancelled} not started)",
        object_type="integrations.replay",
        object_id=replay_id,
    )
    return cancelled


def lead_fields_revise(
    *, lead_id: Any, fields: Mapping[str, Any], user: Any
) -> LeadRevision | None:
    """Replace the lead's normalised fields, keeping what they were as a revision
    (who, when, before, after). The payload as received is never touched. Returns
    None when nothing changed."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead_id)
        after = dict(fields)
        if after == lead.fields:
            return None
        number = (lead.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
        revision = LeadRevision.objects.create(
            lead=lead,
            number=number,
            before=lead.fields,
            after=after,
            changed_by=user if getattr(user, "is_authenticated", False) else None,
        )
        Lead.objects.filter(pk=lead.pk).update(fields=after)
    return revision


__all__ = [
    "REPLAYABLE",
    "ReplayKind",
    "ReplayRequest",
    "lead_fields_revise",
    "replay_cancel",
    "replay_create",
    "replay_selection",
    "succeeded_count",
]
