"""Rate limits shared by every worker: each CRM credential's published quotas, every
HTTP call counted, time from the limiter's store (see ratelimit_store).

Published quotas (the defaults; each account may lower or raise them):
- Keap, personal access token / service account key: 10 calls/s, 240/min, 30,000/day
  per key; Keap, OAuth: 1,500/min and 150,000/day per client app (shared by every
  account connected through it), with a 25/s spike arrest.
  Reference: https://developer.infusionsoft.com/api-token-quota-and-usage-measurements
  and https://developer.infusionsoft.com/faqs/how-does-throttling-work/ (daily quotas
  reset at 00:00 UTC).
- HighLevel: 100 calls per 10 s and 200,000 per day per app per location (private
  integration tokens: per location).
  Reference: https://marketplace.gohighlevel.com/docs/other/rate-limits

A worker never sleeps long holding a delivery: when the next slot is more than
RATELIMIT_MAX_WAIT_SECONDS away the call raises Throttled and the engine reschedules
the delivery at no cost in attempts. A 429 pauses the whole credential until its
Retry-After (or a backoff), halves its rate and lets it recover (AIMD).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integrations.crm.base import Throttled
from integrations.crm.quota_headers import QuotaLeft, quota_left
from integrations.crm.registry import CRMS
from integrations.models import Account, AuthType
from integrations.secrets import digest

from .ratelimit_store import (
    Quota,
    Tuning,
    slow_factor,
    store_clear,
    store_penalise,
    store_read,
    store_reserve,
    store_seen,
    store_seen_due,
)

DAY = 86_400.0

# (per second, per minute, per day) for a CRM this build does not describe.
FALLBACK_DEFAULTS = (10, None, 100_000)


def account_limit_key(account: Account) -> str:
    """The credential whose quota this account's calls spend. Accounts that share a
    credential (an API key, an OAuth client app, one tenant) share its limit; what is
    shared is the CRM's (`CrmSpec.rate_limits`)."""
    spec = CRMS.get(account.crm)
    if spec is None:
        return f"account:{account.pk}"
    if spec.rate_limits.shared_by == "tenant":
        if account.external_id:
            return f"{account.crm}:location:{account.external_id}"
        return f"account:{account.pk}"
    if account.auth_type == AuthType.API_KEY and account.api_key:
        return f"{account.crm}:key:{digest(account.api_key)[:24]}"
    client_id = (
        getattr(settings, f"{spec.oauth.settings_prefix}_CLIENT_ID", "") if spec.oauth else ""
    )
    if account.auth_type == AuthType.OAUTH and client_id:
        return f"{account.crm}:app:{digest(client_id)[:24]}"
    return f"account:{account.pk}"


def account_default_quotas(account: Account) -> tuple[int, int | None, int]:
    """The published (per second, per minute, per day) for this account's credential."""
    spec = CRMS.get(account.crm)
    defaults = spec.rate_limits.defaults if spec else {}
    return defaults.get(account.auth_type) or FALLBACK_DEFAULTS


def account_quotas(account: Account) -> list[Quota]:
    """The account's quotas: its own settings where set, else the published ones."""
    per_second, per_minute, per_day = account_default_quotas(account)
    per_second = account.rate_limit_per_second or per_second
    per_minute = account.rate_limit_per_minute or per_minute
    per_day = account.rate_limit_per_day or per_day
    spec = CRMS.get(account.crm)
    window = spec.rate_limits.window if spec else 1.0
    if window != 1.0:
        # The CRM counts a longer window (HighLevel: 10 s); the setting is its average.
        quotas = [Quota(int(per_second * window), window, f"{window:g}s")]
    else:
        quotas = [Quota(per_second, 1.0, "second")]
    if per_minute:
        quotas.append(Quota(per_minute, 60.0, "minute"))
    quotas.append(Quota(per_day, DAY, "day", calendar=True))
    return quotas


def ratelimit_reserve(
    *, key: str, limits: Sequence[Quota], meanwhile: Callable[[], None] | None = None
) -> float:
    """Take one call's slot in every quota of `key`. Returns 0.0 when it is taken, else
    the seconds until one may be (nothing is taken then). Safe from any process.
    `meanwhile` runs once, while the limiter's store decides (see `store_reserve`)."""
    return store_reserve(key=key, quotas=limits, tuning=Tuning.from_settings(), meanwhile=meanwhile)


def ratelimit_penalise(*, key: str, retry_after: float | None = None) -> float:
    """The CRM answered 429: pause `key` and slow it down. Returns the pause in seconds."""
    return store_penalise(key=key, retry_after=retry_after, tuning=Tuning.from_settings())


def ratelimit_resume(*, key: str) -> None:
    """Lift a 429 pause and slow-down at once."""
    store_clear(key=key)


@dataclass(frozen=True)
class LimitStatus:
    """What the account page shows: a pause, the rate in use, the quota the CRM reports."""

    paused_for: float  # seconds from now; 0 when not paused
    rate_factor: float  # 1.0: the full quota; less after a 429
    seen: list[QuotaLeft]
    seen_at: datetime | None


def ratelimit_status(*, key: str) -> LimitStatus:
    state, now = store_read(key=key)
    seen = state.get("seen") or {}
    numbers = {k: v for k, v in state.items() if isinstance(v, float)}
    return LimitStatus(
        paused_for=max(0.0, numbers.get("pause", 0.0) - now),
        rate_factor=slow_factor(numbers, now, Tuning.from_settings()),
        seen=[QuotaLeft(**q) for q in seen.get("quotas", [])],
        seen_at=datetime.fromtimestamp(seen["at"], tz=UTC) if "at" in seen else None,
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


class QuotaGate:
    """The CallGate (integrations.crm.base) of one delivery's CrmSession."""

    def __init__(self, *, key: str, quotas: Sequence[Quota], max_wait: float | None = None):
        self.key, self.quotas = key, list(quotas)
        self.max_wait = settings.RATELIMIT_MAX_WAIT_SECONDS if max_wait is None else max_wait
        self.waited = 0.0  # seconds this gate slept for slots (for the benches)

    def before_call(self, meanwhile: Callable[[], None] | None = None) -> None:
        slept = 0.0
        while True:
            wait = ratelimit_reserve(key=self.key, limits=self.quotas, meanwhile=meanwhile)
            meanwhile = None  # it ran, with the first reservation
            if wait <= 0:
                return
            if slept + wait > self.max_wait:
                raise Throttled(_later(wait))
            time.sleep(wait)
            slept += wait
            self.waited += wait

    def after_call(self, *, status: int, headers: Mapping[str, str]) -> None:
        now = time.time()
        if store_seen_due(key=self.key, now=now):  # read the headers only then
            left = quota_left(headers)
            if left:
                store_seen(key=self.key, seen={"at": now, "quotas": [q.__dict__ for q in left]})
        if status == 429:
            pause = ratelimit_penalise(key=self.key, retry_after=_retry_after(headers))
            raise Throttled(_later(pause), reason="rate limited by CRM (429)")


def _later(wait: float) -> datetime:
    """When to come back: after `wait`, spread over up to as long again, so deliveries
    turned away together do not all return in the same instant."""
    return timezone.now() + timedelta(seconds=wait * (1 + random.random()))


def account_gate(account: Account) -> QuotaGate:
    return QuotaGate(key=account_limit_key(account), quotas=account_quotas(account))


__all__ = [
    "LimitStatus",
    "Quota",
    "QuotaGate",
    "account_default_quotas",
    "account_gate",
    "account_limit_key",
    "account_quotas",
    "ratelimit_penalise",
    "ratelimit_reserve",
    "ratelimit_resume",
    "ratelimit_status",
]
