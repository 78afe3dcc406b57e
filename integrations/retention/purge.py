"""The retention purge: lead payloads, normalised fields and attempt bodies older than
RETENTION_DAYS are blanked. Outcomes, reasons, contact ids and the health counters
stay (they hold no personal data)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integrations.audit.services import audit_record
from integrations.models import Attempt, AuditAction, Lead

from .scrub import attempts_scrub, leads_scrub


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    leads: int
    revisions: int
    attempts: int
    dry_run: bool

    @property
    def total(self) -> int:
        return self.leads + self.attempts

    def __str__(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        return (
            f"{verb} {self.leads} leads ({self.revisions} field revisions) and "
            f"{self.attempts} attempts older than {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )


def _keyset(queryset: Any, size: int) -> Iterator[list[Any]]:
    """Primary keys of `queryset`, a batch at a time, walking the primary-key index
    (no OFFSET, no long-lived cursor: each batch is its own short query)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        ids = list(page.order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def retention_purge(
    *, dry_run: bool, days: int | None = None, now: datetime | None = None
) -> PurgeReport:
    """Blank what is older than `days` (default RETENTION_DAYS). Safe to repeat and to
    interrupt: rows already blank are not selected again."""
    days = settings.RETENTION_DAYS if days is None else days
    size = settings.RETENTION_BATCH
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old_leads = Lead.objects.filter(received_at__lt=cutoff).filter(
        ~Q(payload={}) | ~Q(fields={}) | ~Q(email="")
    )
    old_attempts = Attempt.objects.filter(started_at__lt=cutoff).filter(
        ~Q(request_body="")
        | ~Q(response_body="")
        | ~Q(request_headers={})
        | ~Q(response_headers={})
        | Q(url__contains="?")
    )
    leads = revisions = attempts = 0
    for ids in _keyset(old_leads, size):
        if dry_run:
            leads += len(ids)
            continue
        n_leads, n_revisions = leads_scrub(lead_ids=ids)
        leads, revisions = leads + n_leads, revisions + n_revisions
    for ids in _keyset(old_attempts, size):
        attempts += len(ids) if dry_run else attempts_scrub(attempt_ids=ids)
    report = PurgeReport(cutoff, leads, revisions, attempts, dry_run)
    if not dry_run and report.total:
        audit_record(actor=None, action=AuditAction.RETENTION, summary=str(report))
    return report
