"""Connecting an account, and letting its held deliveries go once it works again."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from integrations.delivery.enqueue import delivery_enqueue_on_commit
from integrations.models import Account, AccountStatus, Delivery, DeliveryStatus

from .oauth import TokenSet
from .tokens import account_store_tokens

log = logging.getLogger(__name__)


def account_connect(*, account_id: int, tokens: TokenSet) -> tuple[Account, int]:
    """Store the tokens of a completed OAuth consent, mark the account connected and
    release its held deliveries. Returns (account, deliveries released).

    Bumps token_generation, so a refresh that was waiting on the old tokens finds them
    replaced and does not spend the new refresh token behind our back.
    """
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        account_store_tokens(account=account, tokens=tokens)
        released = account_reconnected(account_id=account.pk)
    log.info("account %s connected (generation %s)", account.pk, account.token_generation)
    return account, released


def account_reconnected(*, account_id: int) -> int:
    """Put the account's held deliveries back in the queue, due now. Returns how many.

    Runs in the caller's transaction when there is one; the deliveries are enqueued
    only after it commits (and the sweeper finds them anyway if a message is lost).
    Deliveries held by a pause (of the account or their step) stay held until Resume.
    """
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(of=("self",))
            .filter(
                step__account_id=account_id,
                step__account__paused_at__isnull=True,
                step__paused_at__isnull=True,
                status=DeliveryStatus.HELD,
            )
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.HELD).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, woken_at=now, reason=""
        )
        for delivery_id in ids:
            delivery_enqueue_on_commit(delivery_id=delivery_id)
    if ids:
        log.info("account %s: released %s held deliveries", account_id, len(ids))
    return len(ids)


def accounts_release_held() -> int:
    """Release deliveries held for accounts that work again. Returns how many.

    A reconnect releases its account's held deliveries at once; this catches the one
    that raced it (a worker that decided "hold" just before the reconnect committed,
    and recorded it just after).
    """
    account_ids = set(
        Delivery.objects.filter(
            status=DeliveryStatus.HELD,
            step__account__status=AccountStatus.CONNECTED,
            step__account__paused_at__isnull=True,
        ).values_list("step__account_id", flat=True)
    )
    return sum(
        account_reconnected(account_id=account_id)
        for account_id in account_ids
        if Account.objects.get(pk=account_id).is_usable
    )
