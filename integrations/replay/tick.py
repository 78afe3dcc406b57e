"""One tick of a replay: collect the results of released deliveries, release the
next ones within each account's allowance, and finish when nothing is left.

Released deliveries go through the existing outbox: the row is reset to pending
(its previous run kept in the item) and a worker is woken after commit, behind live
work (integrations.replay.wake). The engine is unchanged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.utils import timezone

from integrations.health.counters import counters_forget_many
from integrations.models import (
    Account,
    Attempt,
    Delivery,
    DeliveryStatus,
    ItemState,
    LeadRevision,
    OnError,
    Outcome,
    Replay,
    ReplayItem,
    ReplayState,
    Step,
    StepKind,
)

from .pacing import Pacing, account_rate, pacing_refill, release_allowance
from .wake import replay_wake_on_commit

log = logging.getLogger(__name__)
HARVEST_BATCH = 2_000


@dataclass(frozen=True)
class TickResult:
    released: int
    harvested: int
    active: bool


def replay_kick(*, replay_id: int, now: bool = False) -> None:
    """After commit, schedule the replay's next tick (now, or one tick from now)."""
    from integrations import tasks

    countdown = 0 if now else settings.REPLAY_TICK_SECONDS
    transaction.on_commit(lambda: tasks.replay_drive.apply_async((replay_id,), countdown=countdown))


def replay_tick(*, replay_id: int) -> TickResult:
    """Run one tick. Safe to call concurrently: callers take the replay's row lock in
    turn (a cancel holds it briefly too), and the pacing state lives on that row, so
    two drivers never release more than one would."""
    with transaction.atomic():
        replay = Replay.objects.select_for_update().filter(pk=replay_id).first()
        if replay is None or not replay.is_active:
            return TickResult(0, 0, False)
        now = timezone.now()
        harvested = _harvest(replay)
        released = _release(replay) if replay.state == ReplayState.RUNNING else 0
        if not ReplayItem.objects.filter(
            replay=replay, state__in=[ItemState.QUEUED, ItemState.RELEASED]
        ).exists():
            replay.state = (
                ReplayState.CANCELLED
                if replay.state == ReplayState.CANCELLING
                else ReplayState.FINISHED
            )
            replay.finished_at = now
        replay.last_tick_at = now
        replay.save()
        return TickResult(released, harvested, replay.is_active)


def replay_drive(*, replay_id: int, seconds: float) -> bool:
    """Tick every REPLAY_TICK_SECONDS for up to `seconds`. Returns True when the replay
    is still active (the caller schedules another drive).

    The ticks run in this one task rather than as a chain of short countdown tasks: a
    countdown task waits behind every message queued before it, so when deliveries
    are queued the ticks would come late and the replay would fall far below its rate.
    """
    deadline = time.monotonic() + seconds
    while True:
        began = time.monotonic()
        if not replay_tick(replay_id=replay_id).active:
            return False
        if began + settings.REPLAY_TICK_SECONDS >= deadline:
            return True
        time.sleep(max(0.0, settings.REPLAY_TICK_SECONDS - (time.monotonic() - began)))


def replays_resume() -> int:
    """Kick active replays whose tick chain stopped (a worker died between ticks)."""
    stale = timezone.now() - timedelta(seconds=3 * settings.REPLAY_DRIVE_SECONDS)
    ids = list(
        Replay.objects.filter(
            state__in=[ReplayState.RUNNING, ReplayState.CANCELLING],
            created_at__lt=stale,
        )
        .exclude(last_tick_at__gte=stale)
        .values_list("pk", flat=True)
    )
    for replay_id in ids:
        replay_kick(replay_id=replay_id, now=True)
    return len(ids)


# --- releasing ------------------------------------------------------------------------


def _release(replay: Replay) -> int:
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=_account_ids(replay))}
    clock = time.time()
    now = timezone.now()
    released = 0
    for key in list(replay.pacing):
        account_id = int(key) if key != "none" else None
        limit = account_rate(account=accounts.get(account_id) if account_id else None)
        pacing = pacing_refill(
            pacing=Pacing.load(replay.pacing[key]),
            rate=limit * settings.REPLAY_RATE_SHARE,
            now=clock,
        )
        allowance = release_allowance(
            pacing=pacing, account_id=account_id, account_rate=limit, now=now
        )
        taken = _release_items(replay, account_id=account_id, limit=allowance, now=now)
        released += taken
        replay.pacing[key] = replace(pacing, tokens=pacing.tokens - taken * pacing.cost).dump()
    return released


def _account_ids(replay: Replay) -> list[int]:
    return [int(k) for k in replay.pacing if k != "none"]


def _release_items(replay: Replay, *, account_id: int | None, limit: int, now) -> int:
    """Release up to `limit` queued items of one account. A statement per kind of
    change, not per item: the tick runs four times a second and must stay short."""
    if limit <= 0:
        return 0
    items = list(
        ReplayItem.objects.filter(replay=replay, state=ItemState.QUEUED, account_id=account_id)
        .order_by("pk")
        .values_list("pk", "delivery_id")[:limit]
    )
    if not items:
        return 0
    deliveries = {
        d.pk: d
        for d in Delivery.objects.select_for_update(of=("self",))
        .select_related("step")  # the health counters' key
        .filter(pk__in=[delivery_id for _, delivery_id in items])
        .order_by("pk")
    }
    busy, succeeded, released = [], [], []
    for item_id, delivery_id in items:
        delivery = deliveries.get(delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.DONE:
            busy.append(item_id)
        elif delivery.outcome == Outcome.SUCCESS and not replay.include_succeeded:
            succeeded.append(item_id)
        else:
            released.append((item_id, delivery))
    queued = ReplayItem.objects.filter(state=ItemState.QUEUED)
    queued.filter(pk__in=busy).update(state=ItemState.SKIPPED, note="already being delivered")
    queued.filter(pk__in=succeeded).update(state=ItemState.SKIPPED, note="succeeded meanwhile")
    reset = [delivery.pk for _, delivery in released]
    if reset:
        # Attempts with a larger id than this were made after the release: the new run's.
        floor = Attempt.objects.aggregate(m=Max("pk"))["m"] or 0
        previous = Delivery.objects.filter(pk=OuterRef("delivery_id"))
        queued.filter(pk__in=[item_id for item_id, _ in released]).update(
            state=ItemState.RELEASED,
            released_at=now,
            attempt_floor=floor,
            # The run this replay replaces, read before the reset below.
            previous_outcome=Subquery(previous.values("outcome")),
            previous_reason=Subquery(previous.values("reason")),
            previous_contact_id=Subquery(previous.values("contact_id")),
            previous_attempt_count=Subquery(previous.values("attempt_count")),
            previous_finished_at=Subquery(previous.values("finished_at")),
        )
        # Their next outcomes replace these ones' counts.
        counters_forget_many(deliveries=[delivery for _, delivery in released])
        # A fresh run: the engine's retry budget starts again, the outcome is unknown.
        # The CRM operations that succeeded are kept (delivery/progress.py), so the run
        # resumes at the part that failed and a contact is never created twice. A lead
        # whose fields were edited since, and a success replayed on purpose, run from
        # the first operation.
        rerun = _edited_since([delivery for _, delivery in released]) + [
            pk for pk in reset if deliveries[pk].outcome == Outcome.SUCCESS
        ]
        fresh = dict(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            woken_at=now,  # the wake-up published below, after commit
            outcome="",
            reason="",
            contact_id="",
            duplicate=None,
            response_ms=None,
            attempt_count=0,
            finished_at=None,
        )
        done = Delivery.objects.filter(pk__in=reset, status=DeliveryStatus.DONE)
        done.filter(pk__in=rerun).update(**fresh, progress={})
        done.exclude(pk__in=rerun).update(**fresh)
        replay_wake_on_commit(delivery_ids=reset)
    replay.released += len(reset)
    replay.skipped += len(items) - len(reset)
    return len(items)


def _edited_since(deliveries: list[Delivery]) -> list[int]:
    """The deliveries whose lead's fields were edited after the delivery finished."""
    if not deliveries:
        return []
    finished = {d.lead_id: d.finished_at for d in deliveries}
    edits = LeadRevision.objects.filter(lead_id__in=finished).values_list("lead_id", "changed_at")
    edited_leads = set()
    for lead_id, changed_at in edits:
        done_at = finished[lead_id]
        if done_at is None or changed_at >= done_at:
            edited_leads.add(lead_id)
    return [d.pk for d in deliveries if d.lead_id in edited_leads]


# --- harvesting -----------------------------------------------------------------------


def _harvest(replay: Replay) -> int:
    rows = list(
        ReplayItem.objects.filter(
            replay=replay,
            state=ItemState.RELEASED,
            delivery__status=DeliveryStatus.DONE,
            delivery__finished_at__gte=F("released_at"),
        )
        .select_related("delivery", "delivery__step")
        .order_by("pk")[:HARVEST_BATCH]
    )
    if not rows:
        return 0
    outcomes = dict(replay.outcomes)
    for item in rows:
        d = item.delivery
        item.state, item.outcome, item.reason = ItemState.DONE, d.outcome, d.reason
        item.finished_at = d.finished_at
        outcomes[d.outcome] = outcomes.get(d.outcome, 0) + 1
    # One UPDATE copying the new run's result from the delivery rows just read (a
    # finished delivery does not change again while its item is released).
    run = Delivery.objects.filter(pk=OuterRef("delivery_id"))
    ReplayItem.objects.filter(pk__in=[item.pk for item in rows]).update(
        state=ItemState.DONE,
        outcome=Subquery(run.values("outcome")),
        reason=Subquery(run.values("reason")),
        finished_at=Subquery(run.values("finished_at")),
    )
    _observe_calls(replay, rows)
    replay.finished += len(rows)
    replay.outcomes = outcomes
    if replay.state == ReplayState.RUNNING:
        _follow_the_flow(replay, rows)
    return len(rows)


def _observe_calls(replay: Replay, items: list[ReplayItem]) -> None:
    """Count the CRM calls each finished run made, per account, so pacing learns the
    calls per delivery of this replay's steps."""
    floors = {i.delivery_id: i.attempt_floor or 0 for i in items}
    calls = Counter(
        delivery_id
        for delivery_id, pk in Attempt.objects.filter(
            delivery_id__in=floors, pk__gt=min(floors.values())
        ).values_list("delivery_id", "pk")
        if pk > floors[delivery_id]
    )
    for item in items:
        key = str(item.account_id) if item.account_id else "none"
        pacing = Pacing.load(replay.pacing.get(key))
        replay.pacing[key] = replace(
            pacing,
            calls=pacing.calls + calls[item.delivery_id],
            deliveries=pacing.deliveries + 1,
        ).dump()


def _follow_the_flow(replay: Replay, items: list[ReplayItem]) -> None:
    """The flow after a replayed step: its engine run created any later delivery that
    did not exist yet; a later delivery that had already finished (and did not
    succeed, unless successes were confirmed) is queued in this replay, one step at
    a time, in flow order."""
    flows = {i.delivery.step.flow_id for i in items}
    steps_by_flow: dict[int, list[Step]] = {}
    for step in Step.objects.filter(
        flow_id__in=flows, enabled=True, kind=StepKind.RECIPIENT
    ).order_by("position", "pk"):
        steps_by_flow.setdefault(step.flow_id, []).append(step)
    outcomes = [Outcome.FAILURE, Outcome.ERROR, Outcome.SKIP]
    if replay.include_succeeded:
        outcomes.append(Outcome.SUCCESS)
    new: list[ReplayItem] = []
    for item in items:
        step = item.delivery.step
        if step.on_error == OnError.STOP and item.outcome != Outcome.SUCCESS:
            continue
        later = [s.pk for s in steps_by_flow.get(step.flow_id, []) if s.position > step.position]
        if not later:
            continue
        nxt = (
            Delivery.objects.filter(
                lead_id=item.delivery.lead_id,
                step_id__in=later,
                status=DeliveryStatus.DONE,
                outcome__in=outcomes,
                created_at__lt=item.released_at,
            )
            .select_related("step")
            .order_by("step__position", "step_id")
            .first()
        )
        if nxt is not None:
            new.append(
                ReplayItem(replay=replay, delivery=nxt, parent=item, account_id=nxt.step.account_id)
            )
    if new:
        ReplayItem.objects.bulk_create(new)
        replay.total += len(new)
        for n in new:
            replay.pacing.setdefault(str(n.account_id) if n.account_id else "none", {})
