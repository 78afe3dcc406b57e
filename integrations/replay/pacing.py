"""How many of an account's replayed deliveries one tick may release.

The account's rate counts CRM calls, and a delivery makes several (a look-up, the
upsert, tags, a sequence...). Each account's pacing state holds a token bucket of
calls, refilled at `REPLAY_RATE_SHARE` of the account's rate, and the calls per
delivery the replay has observed so far (a guess of 2 until a few have finished).

The bucket holds what the time since the last tick earned, at least one tick's worth
(`REPLAY_TICK_SECONDS`) and at most one second's. On time, ticks release share × (1 +
tick) of the account's rate in any one-second window at the most: with the defaults
(0.8, 0.25 s) the account's rate itself, and most of the time 20 % of it is left for
live leads. A tick that comes late (a busy machine: the tick's own queries wait for a
CPU) releases what its whole interval earned, so the replay keeps its average rate
instead of losing the difference; the calls themselves never exceed the account's
quotas, which every call takes a slot of (integrations.delivery.ratelimit).

Live deliveries keep priority: when the account already has one second of its rate
or more due and not yet taken by a worker (live leads queued, a retry storm, the
replay's own backlog on a machine slower than the rate), the tick releases nothing,
so a replay never builds a long queue; and its wake-ups are published behind live
ones (integrations.replay.wake). Deliveries being worked are not counted: a worker
has them already, and their number is bounded by the workers, not by the replay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings

from integrations.delivery.ratelimit import account_quotas
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
    """CRM calls per second this account may make, sustained: the tightest of its
    per-second and per-minute quotas (integrations.delivery.ratelimit.account_quotas,
    CONTRACTS §4). A daily quota is a budget, not a pace: the limiter enforces it."""
    if account is None:
        return float(settings.REPLAY_UNPACED_PER_SECOND)
    rates = [q.limit / q.period for q in account_quotas(account) if q.period <= 60 and q.limit]
    return max(0.1, min(rates)) if rates else float(max(1, account.rate_limit_per_second or 1))


# The longest interval a late tick is credited for: after a longer pause (a driving task
# handed over, a worker restarted) the replay starts again with one second's worth.
CATCH_UP_SECONDS = 1.0


def pacing_refill(*, pacing: Pacing, rate: float, now: float) -> Pacing:
    """Add the calls earned since the last refill at `rate` (the replay's share): the
    bucket holds the last interval's earnings, at least a tick's, at most a second's."""
    tick = settings.REPLAY_TICK_SECONDS
    if not pacing.at:
        return replace(pacing, tokens=max(pacing.cost, rate * tick), at=now)
    elapsed = max(0.0, now - pacing.at)
    capacity = max(pacing.cost, rate * max(tick, min(elapsed, CATCH_UP_SECONDS)))
    return replace(pacing, tokens=min(capacity, pacing.tokens + rate * elapsed), at=now)


def outstanding(*, account_id: int | None, now: datetime, limit: int) -> int:
    """The account's deliveries due now and waiting for a worker (live and replayed),
    up to `limit`."""
    due = Delivery.objects.filter(
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now,
        step__account_id=account_id,  # type: ignore[misc]
    )
    return due[:limit].count()


def release_allowance(
    *, pacing: Pacing, account_id: int | None, account_rate: float, now: datetime
) -> int:
    """How many deliveries to release now: what the bucket holds, less the account's
    queue beyond one second of its rate."""
    whole = math.floor(pacing.tokens / pacing.cost + 1e-9)
    if whole <= 0:
        return 0
    room = max(1, math.ceil(account_rate / pacing.cost))  # one second of the account
    busy = outstanding(account_id=account_id, now=now, limit=room)
    return max(0, min(whole, room - busy))
