"""Demo history for `manage.py demo_seed`: a few weeks of finished deliveries on the
demo flows, so a new user opens a living dashboard. Labelled as demo data throughout
(its own source, "demo-history" emails at example.com, a `demo_history` payload flag),
and seeded once: a second run finds the source's leads and adds nothing.

One step is made to run under its success threshold, so the red badge shows.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Lead,
    LeadStatus,
    Outcome,
    Source,
    Step,
    time_ordered_uuid,
)

from .counters import utc_day
from .reconcile import counters_reconcile

SOURCE_NAME = "Demo history (generated)"
# Per step (in flow order): success share, typical ms, duplicate share.
PROFILES = [(0.975, 240, 0.22), (0.95, 420, 0.35), (0.84, 780, 0.12)]
FAILURE_REASONS = ["duplicate email rejected", "invalid email", "field value too long"]
ERROR_REASONS = ["timeout", "HTTP 503", "rate limited (429)"]
SKIP_REASONS = ["no email or phone"]


def demo_history_seed(*, steps: list[Step], days: int = 21, per_day: int = 60) -> int:
    """Create `days` days of demo deliveries on `steps` (skipped when already there).
    Returns how many deliveries it created."""
    if not steps:
        return 0
    source = Source.objects.filter(flow=steps[0].flow, name=SOURCE_NAME).first()
    if source is not None and Lead.objects.filter(source=source).exists():
        return 0
    rng = random.Random(20261202)
    now = timezone.now()
    created = 0
    with transaction.atomic():
        for index, step in enumerate(steps):
            source, _ = Source.objects.get_or_create(
                flow=step.flow,
                name=SOURCE_NAME,
                defaults={"key_digest": "-", "key_hint": "demo", "active": False},
            )
            profile = PROFILES[index % len(PROFILES)]
            created += _seed_step(step, source, profile, rng, now=now, days=days, per_day=per_day)
        first = utc_day(now - timedelta(days=days))
        counters_reconcile(first_day=first, last_day=utc_day(now), repair=True, quiet=True)
    return created


_STATUS: dict[str, int] = {Outcome.SUCCESS: 200, Outcome.FAILURE: 400}


def _seed_step(step, source, profile, rng, *, now: datetime, days: int, per_day: int) -> int:
    success_share, typical_ms, duplicate_share = profile
    leads: list[Any] = []
    deliveries: list[Any] = []
    for day in range(days, 0, -1):
        # A weekly rhythm and a slow trend, so the charts have a shape.
        volume = int(
            per_day * (0.7 + 0.3 * ((days - day) / days)) * (0.6 if day % 7 in (0, 1) else 1)
        )
        for _ in range(volume):
            received = now - timedelta(days=day - 1, seconds=rng.randint(0, 86_000))
            n = len(leads)
            email = f"demo-history-{step.pk}-{n}@example.com"
            payload = {
                "email": email,
                "first_name": "Demo",
                "last_name": f"Lead {n}",
                "demo_history": True,
            }
            lead = Lead(
                id=time_ordered_uuid(),
                flow=step.flow,
                source=source,
                payload=payload,
                fields={k: v for k, v in payload.items() if k != "demo_history"},
                email=email,
                status=LeadStatus.DONE,
                received_at=received,
                finished_at=received + timedelta(seconds=2),
            )
            leads.append(lead)
            deliveries.append(
                _delivery(lead, step, rng, success_share, typical_ms, duplicate_share)
            )
    Lead.objects.bulk_create(leads, batch_size=500)
    Delivery.objects.bulk_create(deliveries, batch_size=500)
    Attempt.objects.bulk_create(
        [
            Attempt(
                delivery=d,
                number=1,
                method="POST",
                url="https://demo.invalid/contacts",
                request_headers={"Content-Type": "application/json"},
                request_body='{"demo": true}',
                status_code=_STATUS.get(d.outcome, 503),
                response_body='{"demo": true}',
                duration_ms=d.response_ms or 0,
                started_at=d.created_at,
            )
            for d in deliveries
            if d.response_ms is not None
        ],
        batch_size=500,
    )
    return len(deliveries)


def _delivery(lead, step, rng, success_share, typical_ms, duplicate_share) -> Delivery:
    roll = rng.random()
    if roll < success_share:
        outcome, reason = Outcome.SUCCESS, ""
    elif roll < success_share + (1 - success_share) * 0.55:
        outcome, reason = Outcome.FAILURE, rng.choice(FAILURE_REASONS)
    elif roll < success_share + (1 - success_share) * 0.9:
        outcome, reason = Outcome.ERROR, rng.choice(ERROR_REASONS)
    else:
        outcome, reason = Outcome.SKIP, rng.choice(SKIP_REASONS)
    timed = outcome != Outcome.SKIP
    ms = int(rng.lognormvariate(0, 0.45) * typical_ms) if timed else None
    return Delivery(
        lead=lead,
        step=step,
        status=DeliveryStatus.DONE,
        outcome=outcome,
        reason=reason,
        contact_id=str(rng.randint(10_000, 99_999)) if outcome == Outcome.SUCCESS else "",
        duplicate=(rng.random() < duplicate_share) if timed else None,
        response_ms=ms,
        attempt_count=1,
        created_at=lead.received_at,
        finished_at=lead.received_at + timedelta(milliseconds=(ms or 0) + 50),
    )
