"""Blanking the personal parts of leads and attempts, in short batches.

Each batch is one UPDATE of at most RETENTION_BATCH rows chosen by primary key, so
a purge never holds more than a batch of row locks, never locks a table, and intake
and the workers keep writing while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import transaction

from integrations.models import Attempt, Lead, LeadRevision

EMPTY_LEAD = {"payload": {}, "fields": {}, "email": ""}


def batches(ids: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in ids:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def url_without_query(url: str) -> str:
    """Look-ups put emails and phones in query strings (GET /contacts?email=...)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def leads_scrub(*, lead_ids: list[Any]) -> tuple[int, int]:
    """Blank payload, fields and email of these leads and the contents of their field
    revisions (who and when stay). Returns (leads, revisions) changed."""
    with transaction.atomic():
        leads = Lead.objects.filter(pk__in=lead_ids).update(**EMPTY_LEAD)
        revisions = (
            LeadRevision.objects.filter(lead_id__in=lead_ids)
            .exclude(before={}, after={})
            .update(before={}, after={})
        )
    return leads, revisions


def attempts_scrub(*, attempt_ids: list[int]) -> int:
    """Blank request/response bodies and headers of these attempts and drop their URL
    query strings. Method, status, error and timing stay. Returns how many."""
    with transaction.atomic():
        rows = list(
            Attempt.objects.select_for_update().filter(pk__in=attempt_ids).only("pk", "url")
        )
        for row in rows:
            row.url = url_without_query(row.url)
            row.request_body = row.response_body = ""
            row.request_headers = row.response_headers = {}
        Attempt.objects.bulk_update(
            rows,
            ["url", "request_body", "response_body", "request_headers", "response_headers"],
        )
    return len(rows)
