"""One delivery, end to end: claim → map → call the CRM → record attempts and outcome
→ advance the flow.

No network call happens inside a database transaction: the claim commits first, the
CRM calls run in autocommit mode, and the outcome is recorded in one short
transaction afterwards.

The path is short in round trips, because each one costs more in Python than in the
database: the claim, the delivery with everything it reads and the step's
configuration rows (one batch, committed asynchronously; see
integrations.delivery.load; the StepConfig itself is cached per process, see
integrations.mapping.selectors), a progress UPDATE before each CRM call that follows a
change (asynchronous too, unless it marks as sent a call that must not be repeated
blindly, such as a create or a note, and sent without waiting: its answer is read
just before the next call goes out), and the outcome, durably: the delivery's UPDATE (with the
last progress and the step's version), its attempts' INSERT, the counter's upsert and
the lead's end, in one batch that is one transaction (a transaction of its own when
the flow's next step is to be started with it). On PostgreSQL a batch is one round
trip and its statements are prepared once per connection, so the database does not
plan them again at every delivery (integrations.delivery.rows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DataError, connection, transaction
from django.utils import timezone

from integrations.accounts.credentials import account_credentials
from integrations.accounts.tokens import TokenRefreshRejected, account_call_with_refresh
from integrations.crm.base import CrmError, DeliveryResult, Throttled
from integrations.crm.http import CallRecord, CrmSession
from integrations.crm.operations import Operations
from integrations.crm.registry import recipient_for
from integrations.health.counters import counters_statement
from integrations.mapping.selectors import delivery_map
from integrations.models import (
    Account,
    AccountStatus,
    Attempt,
    Delivery,
    DeliveryStatus,
    Outcome,
)

from .autopause import autopause_hold_reason, autopause_note
from .claim import new_lease_owner
from .enqueue import delivery_enqueue_on_commit, wake_up_time
from .flow import flow_advance, flow_ends_after, flow_gate, lead_finish_statement
from .load import Loaded, delivery_claim_load
from .progress import delivery_operations, lease_checked, lease_held, lease_lost
from .ratelimit import account_gate
from .retry import may_retry, next_attempt_at, retry_delay_seconds, retry_schedule
from .rows import Statement, insert_statement, rows_batch, update_statement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What one attempt decided: a final outcome, a retry, a hold, or a wait for the
    CRM's rate limit (`throttled_until`, which like a hold costs no attempt)."""

    result: DeliveryResult | None = None
    retry_in: float | None = None
    hold: bool = False
    reason: str = ""
    throttled_until: datetime | None = None


@dataclass
class _Attempt:
    """One attempt's state between its steps."""

    loaded: Loaded
    owner: str
    http: CrmSession
    operations: Operations | None = None
    mapped: bool = False  # the lead was mapped: the step's version is recorded

    @property
    def delivery(self) -> Delivery:
        return self.loaded.delivery


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """Claim, call the CRM, record the outcome. Safe to call twice: a second caller
    finds the delivery claimed or done and returns without calling the CRM."""
    owner = new_lease_owner()
    loaded = delivery_claim_load(delivery_id=delivery_id, owner=owner, now=timezone.now())
    if loaded is None:  # someone else has it, it is not due, or its lead was purged
        return None
    delivery = loaded.delivery
    operations = delivery_operations(delivery=delivery, owner=owner)
    http = CrmSession(
        secrets=_secrets_of(delivery), gate=_gate_of(delivery), before_send=operations.settle
    )
    work = _Attempt(loaded, owner, http)
    held = autopause_hold_reason(delivery.step)
    if held:
        verdict = Verdict(hold=True, reason=held)
    else:
        work.operations = operations
        verdict = _run(work)
    _record(work, verdict=verdict)
    return delivery


def _secrets_of(delivery: Delivery) -> tuple[str, ...]:
    account = delivery.step.account
    if account is None:
        return ()
    return (account.api_key, account.access_token, account.refresh_token)


def _gate_of(delivery: Delivery) -> Any:
    """Every call of this delivery counts against its account's quotas."""
    account = delivery.step.account
    return account_gate(account) if account is not None else None


def _run(work: _Attempt) -> Verdict:
    delivery, loaded, http, operations = work.delivery, work.loaded, work.http, work.operations
    step = delivery.step
    if not flow_gate(delivery=delivery, now=timezone.now(), filters_before=loaded.filters_before):
        return Verdict(DeliveryResult(Outcome.SKIP, "flow stopped before this step"))
    account = step.account
    if account is None or not step.recipient:
        return Verdict(DeliveryResult(Outcome.SKIP, "step has no recipient"))
    if account.status == AccountStatus.NEEDS_RECONNECT or not account.is_usable:
        return Verdict(hold=True, reason="account needs reconnect")
    mapped = delivery_map(
        delivery=delivery,
        config_stamp=loaded.config_stamp,
        config_parts=loaded.config_parts,
        earlier_outcomes=loaded.earlier_outcomes,
    )
    if mapped.contact is None or mapped.plan is None:
        return Verdict(DeliveryResult(Outcome.SKIP, mapped.skip_reason))
    contact = mapped.contact
    # Whether a call may already have reached the CRM is known per operation
    # (`operations`), so the plan's blanket flag stays off.
    plan = mapped.plan
    # Which configuration produced this delivery: recorded with the outcome (the
    # step's latest version, read with the delivery; see integrations.studio.versions).
    work.mapped = True
    recipient = recipient_for(step.recipient)

    def send(current: Account) -> DeliveryResult:
        # After a refresh `current` holds new tokens: scrub them from the record too.
        http.scrub_also(current.access_token, current.refresh_token)
        credentials = account_credentials(account=current, recipient=step.recipient)
        return recipient.deliver(
            contact=contact, plan=plan, credentials=credentials, http=http, operations=operations
        )

    try:
        # OAuth: refresh first when the token is (nearly) expired; on a 401, refresh once
        # for the generation this delivery used and send once more. The refresh takes the
        # account's row lock across the token request — the engine's one deliberate
        # network call inside a transaction (see integrations.accounts.tokens) — so a
        # storm of workers spends each refresh token exactly once.
        return Verdict(account_call_with_refresh(account=account, call=send))
    except TokenRefreshRejected:
        return Verdict(hold=True, reason="account needs reconnect")
    except Throttled as wait:
        return Verdict(throttled_until=wait.retry_at, reason=wait.reason)
    except CrmError as exc:
        return _verdict_for_error(exc, delivery=delivery)
    except Exception:
        log.exception("delivery %s failed unexpectedly", delivery.pk)
        return Verdict(DeliveryResult(Outcome.ERROR, "internal error"))


def _verdict_for_error(exc: CrmError, *, delivery: Delivery) -> Verdict:
    attempt, schedule = delivery.attempt_count, retry_schedule(delivery.step.retry_schedule)
    if exc.retryable and may_retry(attempt=attempt, schedule=schedule):
        return Verdict(
            retry_in=retry_delay_seconds(
                attempt=attempt, retry_after=exc.retry_after, schedule=schedule
            ),
            reason=exc.reason,
        )
    outcome = Outcome.ERROR if exc.outcome == "error" else Outcome.FAILURE
    return Verdict(DeliveryResult(outcome, exc.reason, exc.contact_id, exc.duplicate))


def _record(work: _Attempt, *, verdict: Verdict) -> None:
    delivery, calls = work.delivery, work.http.calls
    now = timezone.now()
    fields = _outcome_fields(work, verdict=verdict, now=now)
    # Only the lease holder may record. If our lease ran out and another worker took
    # over, its result wins and nothing of ours is written; our calls were upserts, so
    # nothing is doubled. The writes go out in one batch (one round trip on PostgreSQL,
    # see .rows).
    statements = [
        update_statement(
            Delivery,
            fields,
            where=lease_held(),
            params=[delivery.pk, work.owner, DeliveryStatus.IN_PROGRESS],
        )
    ]
    if calls:
        statements.append(insert_statement(Attempt, _attempts(delivery, calls)))
    for name, value in fields.items():
        setattr(delivery, name, value)
    advance = False  # the flow's next step is still to be decided
    if verdict.result is not None:
        counted = counters_statement(delivery=delivery)  # commits with the outcome
        if counted is not None:
            statements.append(counted)
        if flow_ends_after(delivery=delivery, later_steps=work.loaded.later_steps):
            # The common last step: the lead is done, with no read first.
            statements.append(lead_finish_statement(lead_id=delivery.lead_id, now=now))
        else:
            advance = True
    held = _write_outcome(work, statements, advance=advance, now=now)
    if not held:
        log.warning("delivery %s: lease lost before recording", delivery.pk)
        delivery.refresh_from_db()  # what the new owner made of it
        return
    if fields.get("woken_at") is not None:
        delivery_enqueue_on_commit(  # the outcome is committed (or will be, with a caller's)
            delivery_id=delivery.pk,
            countdown=max(0.0, (fields["woken_at"] - now).total_seconds()),
        )
    # Bookkeeping that a crash may skip: the next verdict is counted all the same.
    autopause_note(delivery=delivery, verdict=_autopause_kind(verdict), now=now)


def _write_outcome(
    work: _Attempt, statements: list[Statement], *, advance: bool, now: datetime
) -> bool:
    """Write the outcome's statements, and the flow's next step when `advance`, all or
    nothing, if this worker still holds the lease. Returns whether it did.

    On PostgreSQL outside a transaction, when no next step is to be decided (the common
    case), this is one round trip: the batch runs as one transaction, and its first
    write, the delivery's UPDATE, fails it when the lease was lost (`lease_checked`).
    Elsewhere, a transaction in which that UPDATE's count tells."""
    delivery = work.delivery
    if not advance and connection.vendor == "postgresql" and not connection.in_atomic_block:
        try:
            rows_batch([lease_checked(statements[0]), *statements[1:]])
        except DataError as exc:
            if not lease_lost(exc):
                raise
            return False
        return True
    with transaction.atomic():
        if rows_batch(statements)[0].rowcount != 1:
            transaction.set_rollback(True)
            return False
        if advance:
            flow_advance(delivery=delivery, now=now, later_steps=work.loaded.later_steps)
        return True


def _outcome_fields(work: _Attempt, *, verdict: Verdict, now: datetime) -> dict[str, Any]:
    """The delivery's columns as this attempt leaves them."""
    delivery, calls = work.delivery, work.http.calls
    fields: dict[str, Any] = {
        "lease_owner": "",
        "lease_expires_at": None,
        "response_ms": work.http.total_ms if calls else None,
    }
    if work.operations is not None and work.operations.unsaved:
        fields["progress"] = work.operations.state  # what the last CRM calls completed
    if work.mapped:
        fields["step_revision_id"] = work.loaded.revision_id
    if verdict.result is not None:
        result = verdict.result
        fields.update(
            status=DeliveryStatus.DONE,
            outcome=result.outcome,
            reason=result.reason[:200],
            contact_id=result.contact_id,
            duplicate=result.duplicate,
            finished_at=now,
        )
    elif verdict.hold:
        # Waiting for a reconnect or a Resume is not a try: give the claim's count back,
        # so a delivery held and released still has all its retries.
        fields.update(
            status=DeliveryStatus.HELD,
            reason=verdict.reason,
            attempt_count=delivery.attempt_count - 1,
        )
    elif verdict.throttled_until is not None:
        # Waiting for the CRM's quota is not a try either.
        fields.update(
            status=DeliveryStatus.PENDING,
            reason=verdict.reason,
            next_attempt_at=verdict.throttled_until,
            attempt_count=delivery.attempt_count - 1,
        )
    else:
        fields.update(
            status=DeliveryStatus.PENDING,
            reason=verdict.reason,
            next_attempt_at=next_attempt_at(now=now, delay=verdict.retry_in or 0),
        )
    if "next_attempt_at" in fields:
        fields["woken_at"] = wake_up_time(at=fields["next_attempt_at"], now=now)
    return fields


def _autopause_kind(verdict: Verdict) -> str:
    """ "success", "failure" (errors and failures alike) or "" (neither: a hold, a wait
    for the rate limit, a skip) for the auto-pause's bookkeeping."""
    if verdict.retry_in is not None:
        return "failure"
    if verdict.result is None or verdict.result.outcome == Outcome.SKIP:
        return ""
    return "success" if verdict.result.outcome == Outcome.SUCCESS else "failure"


def _attempts(delivery: Delivery, calls: list[CallRecord]) -> list[dict[str, Any]]:
    """The Attempt rows of this attempt's calls (see .rows.insert_statement)."""
    return [
        {
            "delivery_id": delivery.pk,
            "number": delivery.attempt_count,
            "method": c.method,
            "url": c.url[:500],
            "request_headers": c.request_headers,
            "request_body": c.request_body,
            "status_code": c.status_code,
            "response_headers": c.response_headers,
            "response_body": c.response_body,
            "error": c.error,
            "duration_ms": c.duration_ms,
            "started_at": datetime.fromtimestamp(c.started_at, tz=UTC)
            if c.started_at
            else timezone.now(),
        }
        for c in calls
    ]


__all__ = ["Verdict", "delivery_attempt"]
