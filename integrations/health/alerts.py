"""Threshold alerts: each step's last 24 h against its thresholds. Crossing one sends
one email to the admins and raises a banner; nothing more is sent until the step
recovers and crosses again (`AlertState` remembers which side it is on)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from integrations.models import AlertState, Metric, Step

from .counters import tallies_from_deliveries
from .figures import Figures
from .thresholds import breaches, thresholds_load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Crossing:
    step_id: int
    step_name: str
    metric: str
    value: float
    limit: float

    def sentence(self) -> str:
        label = Metric(self.metric).label
        unit = " ms" if self.metric == Metric.RESPONSE_MS else " %"
        side = "below" if self.metric == Metric.SUCCESS_RATE else "above"
        return f"{self.step_name}: {label} {self.value:.1f}{unit}, {side} {self.limit:g}{unit}"


def metric_values(figures: Figures) -> dict[str, float | None]:
    return {
        Metric.SUCCESS_RATE: figures.success_rate,
        Metric.RESPONSE_MS: figures.avg_ms,
        Metric.DUPLICATE_RATE: figures.duplicate_rate,
    }


def alerts_check(*, now: datetime | None = None) -> list[Crossing]:
    """Compare every step's last `HEALTH_ALERT_WINDOW_HOURS` with its thresholds; mail
    the admins once about the crossings that are new. Returns them. Safe to overlap:
    a state flips with a conditional UPDATE, so only one run reports a crossing."""
    now = now or timezone.now()
    start = now - timedelta(hours=settings.HEALTH_ALERT_WINDOW_HOURS)
    per_step: dict[int, Figures] = defaultdict(Figures)
    accounts: dict[int, int | None] = {}
    for row in tallies_from_deliveries(start=start, end=now):
        per_step[row.key.step_id].add(row)
        accounts[row.key.step_id] = row.account_id
    book = thresholds_load()
    names = {
        s.pk: f"{s.flow.name} › {s.name}"
        for s in Step.objects.filter(pk__in=per_step).select_related("flow")
    }
    crossings = []
    for step_id, figures in per_step.items():
        if figures.attempted < settings.HEALTH_ALERT_MIN_DELIVERIES:
            continue  # too few to judge
        limits = book.for_step(step_id, accounts[step_id])
        for metric, value in metric_values(figures).items():
            limit = limits.limit_for(metric)
            over = breaches(metric, value, limits)
            state, _ = AlertState.objects.get_or_create(step_id=step_id, metric=metric)
            changed = AlertState.objects.filter(pk=state.pk, alerting=not over).update(
                alerting=over, since=now, value=value, limit=limit
            )
            if not changed:
                AlertState.objects.filter(pk=state.pk).update(value=value, limit=limit)
            elif over and value is not None:
                crossings.append(
                    Crossing(step_id, names.get(step_id, str(step_id)), metric, value, limit)
                )
    if crossings:
        _notify(crossings, now=now)
    return crossings


def _notify(crossings: list[Crossing], *, now: datetime) -> None:
    recipients = alert_recipients()
    lines = "\n".join(f"- {c.sentence()}" for c in crossings)
    subject = (
        f"LeadFlow health: {len(crossings)} threshold{'s' if len(crossings) > 1 else ''} crossed"
    )
    body = (
        f"Over the last {settings.HEALTH_ALERT_WINDOW_HOURS} hours:\n\n{lines}\n\n"
        f"The dashboard: {settings.PUBLIC_BASE_URL}/admin/\n"
        "You will not be told again about these until they recover and cross again."
    )
    if recipients:
        send_mail(subject, body, None, recipients)
    else:
        log.warning("%s (no admin has an email address)\n%s", subject, lines)
    for crossing in crossings:
        AlertState.objects.filter(step_id=crossing.step_id, metric=crossing.metric).update(
            notified_at=now
        )


def alert_recipients() -> list[str]:
    """The admins: settings.ADMINS, and active users who may see the dashboard."""
    emails = [email for _, email in settings.ADMINS]
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    allowed = users.filter(
        Q(is_superuser=True)
        | Q(user_permissions__codename="view_dashboard")
        | Q(groups__permissions__codename="view_dashboard")
    ).distinct()
    emails += [user.email for user in allowed]
    return sorted(set(emails))


def alerts_active() -> list[AlertState]:
    """Thresholds currently crossed (for the banner)."""
    return list(
        AlertState.objects.filter(alerting=True)
        .select_related("step", "step__flow")
        .order_by("since")[:20]
    )
