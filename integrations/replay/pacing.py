"""How many of an account's replayed deliveries one tick may release.

A token bucket per account and replay, refilled at `REPLAY_RATE_SHARE` of the
account's rate and holding at most one tick's worth (`REPLAY_TICK_SECONDS`), so in
any one-second window a replay releases at most share × (1 + tick) of the account's
rate: with the defaults (0.8, 0.25 s) exactly the account's rate, and the rest of
the time 20 % is left for live leads.

Live deliveries keep priority: when the account already has more work due or in
flight than one second of its rate (live leads queued, a retry storm), the tick
releases nothing, so a replay never builds a queue in front of live leads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from integrations.models import Account, Delivery, DeliveryStatus


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float  # epoch seconds of the last refill


def account_rate(*, account: Account | None) -> float:
    """Calls per second this account may make.

    Until the per-account quotas land (integrations.delivery.ratelimit.account_quotas,
    CONTRACTS §4) this is Account.rate_limit_per_second.
    """
    if account is None:
        return float(settings.REPLAY_UNPACED_PER_SECOND)
    return float(max(1, account.rate_limit_per_second))


def replay_rate(*, account: Account | None) -> float:
    """The share of the account's rate a replay may use."""
    return account_rate(account=account) * settings.REPLAY_RATE_SHARE


def bucket_refill(*, bucket: Bucket | None, rate: float, now: float) -> Bucket:
    capacity = rate * settings.REPLAY_TICK_SECONDS
    if bucket is None:
        return Bucket(tokens=capacity, at=now)
    tokens = min(capacity, bucket.tokens + rate * max(0.0, now - bucket.at))
    return Bucket(tokens=tokens, at=now)


def outstanding(*, account_id: int | None, now, limit: int) -> int:
    """The account's deliveries due now or in flight (live and replayed), counted up
    to `limit`."""
    busy = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.IN_PROGRESS
    )
    return Delivery.objects.filter(busy, step__account_id=account_id)[:limit].count()


def release_allowance(*, bucket: Bucket, account_id: int | None, rate: float, now) -> int:
    """How many to release now: the whole tokens in the bucket, less the account's
    backlog beyond one second of its rate."""
    whole = math.floor(bucket.tokens)
    if whole <= 0:
        return 0
    room = max(1, math.ceil(rate / settings.REPLAY_RATE_SHARE))  # one second of the account
    busy = outstanding(account_id=account_id, now=now, limit=room)
    return max(0, min(whole, room - busy))
