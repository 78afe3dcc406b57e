"""How many of an account's replayed deliveries one tick may release.

The account's rate counts CRM calls, and a delivery makes several (a look-up, the
upsert, tags, a sequence...). Each account's pacing state holds a token bucket of
calls, refilled at `REPLAY_RATE_SHARE` of the account's rate and holding at most one
tick's worth (`REPLAY_TICK_SECONDS`) or one delivery, and the calls per delivery the
replay has observed so far (a guess of 2 until a few have finished). In any
one-second window a replay then starts at most share × (1 + tick) of the account's
rate: with the defaults (0.8, 0.25 s) the account's rate itself, and most of the
time 20 % of it is left for live leads.

Live deliveries keep priority: when the account already has one second of its rate
or more due or in flight (live leads queued, a retry storm), the tick releases
nothing, so a replay never builds a queue in front of live leads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q

from integrations.models import Account, Delivery, DeliveryStatus

CALLS_PER_DELIVERY_GUESS = 2.0
OBSERVED_ENOUGH = 3


@dataclass(frozen=True)
class Pacing:
    """One account's pacing state within one replay (stored as JSON on the replay)."""

    tokens: float = 0.0  # CRM calls that may start now
    at: float = 0.0  # epoch seconds of the last refill; 0: never refilled
    calls: int = 0  # calls observed for finished replayed deliveries
    deliveries: int = 0

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Pacing:
        return cls(**(data or {}))

    def dump(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "at": self.at,
            "calls": self.calls,
            "deliveries": self.deliveries,
        }

    @property
    def cost(self) -> float:
        """Calls per delivery: observed, or the guess until enough have finished."""
        if self.deliveries < OBSERVED_ENOUGH:
            return CALLS_PER_DELIVERY_GUESS
        return max(1.0, self.calls / self.deliveries)


def account_rate(*, account: Account | None) -> float:
    """Calls per second this account may make.

    Until the per-account quotas land (integrations.delivery.ratelimit.account_quotas,
    CONTRACTS §4) this is Account.rate_limit_per_second.
    """
    if account is None:
        return float(settings.REPLAY_UNPACED_PER_SECOND)
    return float(max(1, account.rate_limit_per_second))


def pacing_refill(*, pacing: Pacing, rate: float, now: float) -> Pacing:
    """Add the calls earned since the last refill at `rate` (the replay's share)."""
    capacity = max(pacing.cost, rate * settings.REPLAY_TICK_SECONDS)
    if not pacing.at:
        return replace(pacing, tokens=capacity, at=now)
    return replace(
        pacing, tokens=min(capacity, pacing.tokens + rate * max(0.0, now - pacing.at)), at=now
    )


def outstanding(*, account_id: int | None, now: datetime, limit: int) -> int:
    """The account's deliveries due now or in flight (live and replayed), up to `limit`."""
    busy = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.IN_PROGRESS
    )
    return Delivery.objects.filter(busy, step__account_id=account_id)[:limit].count()


def release_allowance(
    *, pacing: Pacing, account_id: int | None, account_rate: float, now: datetime
) -> int:
    """How many deliveries to release now: what the bucket holds, less the account's
    backlog beyond one second of its rate."""
    whole = math.floor(pacing.tokens / pacing.cost + 1e-9)
    if whole <= 0:
        return 0
    room = max(1, math.ceil(account_rate / pacing.cost))  # one second of the account
    busy = outstanding(account_id=account_id, now=now, limit=room)
    return max(0, min(whole, room - busy))
