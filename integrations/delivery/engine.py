"""One delivery, end to end: claim → map → call the CRM → record attempts and outcome
→ advance the flow.

No network call happens inside a database transaction: the claim commits first, the
CRM calls run in autocommit mode, and the outcome is recorded in one short
transaction afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.accounts.credentials import account_credentials
from integrations.accounts.tokens import TokenRefreshRejected, account_call_with_refresh
from integrations.crm.base import CrmError, DeliveryResult
from integrations.crm.http import CallRecord, CrmSession
from integrations.crm.registry import recipient_for
from integrations.health.counters import counters_record
from integrations.mapping.selectors import delivery_map
from integrations.models import (
    Account,
    AccountStatus,
    Attempt,
    Delivery,
    DeliveryStatus,
    Outcome,
)
from integrations.studio.versions import step_version_record

from .claim import delivery_claim, new_lease_owner
from .flow import flow_advance
from .retry import may_retry, next_attempt_at, retry_delay_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What one attempt decided: a final outcome, a retry, or a hold."""

    result: DeliveryResult | None = None
    retry_in: float | None = None
    hold: bool = False
    reason: str = ""


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """Claim, call the CRM, record the outcome. Safe to call twice: a second caller
    finds the delivery claimed or done and returns without calling the CRM."""
    owner = new_lease_owner()
    if not delivery_claim(delivery_id=delivery_id, owner=owner):
        return None
    delivery = Delivery.objects.select_related("lead", "step", "step__account").get(pk=delivery_id)
    http = CrmSession(secrets=_secrets_of(delivery))
    verdict = _run(delivery, http)
    _record(
        delivery,
        owner=owner,
        verdict=verdict,
        calls=http.calls,
        response_ms=http.total_ms if http.calls else None,
    )
    return delivery


def _secrets_of(delivery: Delivery) -> tuple[str, ...]:
    account = delivery.step.account
    if account is None:
        return ()
    return (account.api_key, account.access_token, account.refresh_token)


def _run(delivery: Delivery, http: CrmSession) -> Verdict:
    step = delivery.step
    account = step.account
    if account is None or not step.recipient:
        return Verdict(DeliveryResult(Outcome.SKIP, "step has no recipient"))
    if account.status == AccountStatus.NEEDS_RECONNECT or not account.is_usable:
        return Verdict(hold=True, reason="account needs reconnect")
    mapped = delivery_map(delivery=delivery)
    if mapped.contact is None or mapped.plan is None:
        return Verdict(DeliveryResult(Outcome.SKIP, mapped.skip_reason))
    contact = mapped.contact
    plan = replace(mapped.plan, may_have_been_sent=delivery.attempt_count > 1)
    step_version_record(delivery=delivery)  # which configuration produced this delivery
    recipient = recipient_for(step.recipient)

    def send(current: Account) -> DeliveryResult:
        # After a refresh `current` holds new tokens: scrub them from the record too.
        http.scrub_also(current.access_token, current.refresh_token)
        credentials = account_credentials(account=current, recipient=step.recipient)
        return recipient.deliver(contact=contact, plan=plan, credentials=credentials, http=http)

    try:
        # OAuth: refresh first when the token is (nearly) expired; on a 401, refresh once
        # for the generation this delivery used and send once more. The refresh takes the
        # account's row lock across the token request — the engine's one deliberate
        # network call inside a transaction (see integrations.accounts.tokens) — so a
        # storm of workers spends each refresh token exactly once.
        return Verdict(account_call_with_refresh(account=account, call=send))
    except TokenRefreshRejected:
        return Verdict(hold=True, reason="account needs reconnect")
    except CrmError as exc:
        return _verdict_for_error(exc, attempt=delivery.attempt_count)
    except Exception:  # a bug must not strand the lead: record (log.exception) and move on
        log.exception("delivery %s failed unexpectedly", delivery.pk)
        return Verdict(DeliveryResult(Outcome.ERROR, "internal error"))


def _verdict_for_error(exc: CrmError, *, attempt: int) -> Verdict:
    if exc.retryable and may_retry(attempt=attempt):
        return Verdict(
            retry_in=retry_delay_seconds(attempt=attempt, retry_after=exc.retry_after),
            reason=exc.reason,
        )
    outcome = Outcome.ERROR if exc.outcome == "error" else Outcome.FAILURE
    return Verdict(DeliveryResult(outcome, exc.reason, exc.contact_id, exc.duplicate))


def _record(
    delivery: Delivery,
    *,
    owner: str,
    verdict: Verdict,
    calls: list[CallRecord],
    response_ms: int | None,
) -> None:
    now = timezone.now()
    with transaction.atomic():
        # Only the lease holder may record. If our lease ran out and another worker
        # took over, its result wins; our calls were upserts, so nothing is doubled.
        still_ours = Delivery.objects.select_for_update().filter(
            pk=delivery.pk, lease_owner=owner, status=DeliveryStatus.IN_PROGRESS
        )
        if not still_ours.exists():
            log.warning("delivery %s: lease lost before recording", delivery.pk)
            return
        Attempt.objects.bulk_create(_attempts(delivery, calls))
        fields: dict[str, Any] = {
            "lease_owner": "",
            "lease_expires_at": None,
            "response_ms": response_ms,
        }
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
            # Waiting for a reconnect is not a try: give the claim's count back, so a
            # delivery held and released still has all its retries.
            fields.update(
                status=DeliveryStatus.HELD,
                reason=verdict.reason,
                attempt_count=F("attempt_count") - 1,
            )
        else:
            fields.update(
                status=DeliveryStatus.PENDING,
                reason=verdict.reason,
                next_attempt_at=next_attempt_at(now=now, delay=verdict.retry_in or 0),
            )
        still_ours.update(**fields)
        delivery.refresh_from_db(fields=list(fields))
        if verdict.result is not None:
            counters_record(delivery=delivery)  # the health counters commit with the outcome
            flow_advance(delivery=delivery, now=now)
        elif verdict.retry_in is not None:
            from .enqueue import delivery_enqueue_on_commit

            delivery_enqueue_on_commit(delivery_id=delivery.pk, countdown=verdict.retry_in)


def _attempts(delivery: Delivery, calls: list[CallRecord]) -> list[Attempt]:
    return [
        Attempt(
            delivery=delivery,
            number=delivery.attempt_count,
            method=c.method,
            url=c.url[:500],
            request_headers=c.request_headers,
            request_body=c.request_body,
            status_code=c.status_code,
            response_headers=c.response_headers,
            response_body=c.response_body,
            error=c.error,
            duration_ms=c.duration_ms,
            started_at=datetime.fromtimestamp(c.started_at, tz=UTC)
            if c.started_at
            else timezone.now(),
        )
        for c in calls
    ]


__all__ = ["Verdict", "delivery_attempt"]
