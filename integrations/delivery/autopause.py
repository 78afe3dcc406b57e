"""Auto-pause: an account (or a step) whose deliveries have only failed or errored for
DELIVERY_AUTOPAUSE_AFTER_SECONDS is paused with a visible reason, and the admins get
an email. Its deliveries are then held (not failed, at no cost in attempts) until
someone presses Resume; they then drain at the account's rate.

Bookkeeping is two conditional UPDATEs per outcome: `failing_since` is set by the
first failure after a success and cleared by the next success, so "only failed for
the window" is `failing_since <= now - window`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from integrations.models import Account, Delivery, DeliveryStatus, Step

from .enqueue import delivery_enqueue_on_commit

log = logging.getLogger(__name__)


def autopause_hold_reason(step: Step) -> str:
    """Why deliveries of this step are held by a pause ("" when they are not)."""
    if step.paused_at is not None:
        return f"step paused: {step.pause_reason}"[:200]
    account = step.account
    if account is not None and account.paused_at is not None:
        return f"account paused: {account.pause_reason}"[:200]
    return ""


def autopause_note(*, delivery: Delivery, verdict: str, now: datetime) -> None:
    """Count one attempt's verdict ("success", "failure" or "": neither) towards the
    account's and the step's pause. Runs inside the engine's recording transaction.

    The account is judged first: when all of it is failing, the account is paused (one
    Resume); a step is paused on its own only while its account still succeeds elsewhere.
    """
    step = delivery.step
    targets: list[tuple[Any, int]] = []
    if step.account_id is not None:
        targets.append((Account, step.account_id))
    targets.append((Step, step.pk))
    if verdict == "success":
        # The rows as loaded with the delivery: in the common case (nothing failing)
        # a success costs no query. A failure recorded since is cleared by the next one.
        loaded = {Account: step.account, Step: step}
        for model, pk in targets:
            if getattr(loaded[model], "failing_since", None) is not None:
                model.objects.filter(pk=pk).update(failing_since=None)
        return
    account = step.account
    window = settings.DELIVERY_AUTOPAUSE_AFTER_SECONDS
    if account is not None and account.autopause_after_seconds is not None:
        window = account.autopause_after_seconds
    if verdict != "failure" or window <= 0:
        return
    reason = _reason(window, delivery.reason)
    for model, pk in targets:
        model.objects.filter(pk=pk, failing_since__isnull=True).update(failing_since=now)
        paused = model.objects.filter(
            pk=pk, paused_at__isnull=True, failing_since__lte=now - timedelta(seconds=window)
        ).update(paused_at=now, pause_reason=reason)
        if paused:
            name = str(model.objects.get(pk=pk))
            kind = model._meta.verbose_name
            log.warning("%s %s auto-paused: %s", kind, pk, reason)
            transaction.on_commit(lambda k=kind, n=name: _notify_admins(k, n, reason))  # type: ignore[misc]
        if model is Account and model.objects.filter(pk=pk, paused_at__isnull=False).exists():
            return


def _reason(window: float, last: str) -> str:
    if window >= 3600:
        span = f"{window / 3600:.3g} h"
    elif window >= 60:
        span = f"{window / 60:.3g} min"
    else:
        span = f"{window:.3g} s"
    text = f"every delivery failed for {span}"
    return f"{text} (last: {last})"[:200] if last else text


def _admin_emails() -> list[str]:
    users = get_user_model().objects.filter(is_superuser=True, is_active=True)
    emails = {e for e in users.values_list("email", flat=True) if e}
    emails.update(email for _, email in settings.ADMINS)
    return sorted(emails)


def _notify_admins(kind: str, name: str, reason: str) -> None:
    recipients = _admin_emails()
    if not recipients:
        return
    subject = f"LeadFlow: {kind} “{name}” paused"
    body = (
        f"The {kind} “{name}” was paused automatically: {reason}.\n\n"
        "Its deliveries are held, not lost. Fix the cause, then press Resume on its "
        "admin page; the held deliveries then go out at the account's rate.\n"
    )
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        log.exception("could not email the admins about the pause of %s %s", kind, name)


def _release(deliveries: Any) -> int:
    now = timezone.now()
    ids = list(
        deliveries.select_for_update(of=("self",))
        .filter(status=DeliveryStatus.HELD)
        .values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.HELD).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, woken_at=now, reason=""
    )
    for delivery_id in ids:
        delivery_enqueue_on_commit(delivery_id=delivery_id)
    return len(ids)


def account_resume(*, account_id: int) -> int:
    """Lift the account's pause and release its held deliveries (those of its paused
    steps stay held). Returns how many were released."""
    with transaction.atomic():
        Account.objects.filter(pk=account_id).update(
            paused_at=None, pause_reason="", failing_since=None
        )
        return _release(
            Delivery.objects.filter(step__account_id=account_id, step__paused_at__isnull=True)
        )


def step_resume(*, step_id: int) -> int:
    """Lift the step's pause and release its held deliveries (unless its account is
    paused too). Returns how many were released."""
    with transaction.atomic():
        Step.objects.filter(pk=step_id).update(paused_at=None, pause_reason="", failing_since=None)
        return _release(
            Delivery.objects.filter(step_id=step_id, step__account__paused_at__isnull=True)
        )


__all__ = ["account_resume", "autopause_hold_reason", "autopause_note", "step_resume"]
