"""A lead's whole journey on one page: the payload as received, the normalised fields,
each step's outcome, and every HTTP call as a compact timeline whose entries open to the
redacted request and response."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Prefetch

from integrations.models import Attempt, Delivery, Lead


def pretty(text: Any) -> str:
    """JSON indented for reading; anything else as it is."""
    if not isinstance(text, str):
        return json.dumps(text, indent=2, ensure_ascii=False, default=str)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return text


@dataclass(frozen=True)
class Call:
    attempt: Attempt
    path: str
    host: str
    request_headers: str
    request_body: str
    response_headers: str
    response_body: str

    @property
    def ok(self) -> bool:
        return bool(self.attempt.status_code) and self.attempt.status_code < 400


@dataclass(frozen=True)
class Leg:
    delivery: Delivery
    calls: list[Call]
    mapping_version: Any


def _call(attempt: Attempt) -> Call:
    url = urlsplit(attempt.url)
    return Call(
        attempt=attempt,
        path=url.path + (f"?{url.query}" if url.query else ""),
        host=url.netloc,
        request_headers=pretty(attempt.request_headers),
        request_body=pretty(attempt.request_body),
        response_headers=pretty(attempt.response_headers),
        response_body=pretty(attempt.response_body),
    )


def journey_context(
    *,
    lead: Lead,
    only: Delivery | None = None,
    version_of: Callable[[Delivery], str] | None = None,
) -> dict[str, Any]:
    """Template context for the journey (all of the lead's steps, or `only` one).
    `version_of` renders the step version a delivery was mapped with."""
    deliveries = (
        Delivery.objects.filter(lead=lead)
        .select_related("step", "step__account", "step_revision", "step_revision__user")
        .prefetch_related(
            Prefetch("attempts", queryset=Attempt.objects.order_by("started_at", "pk"))
        )
        .order_by("step__position", "pk")
    )
    if only is not None:
        deliveries = deliveries.filter(pk=only.pk)
    legs = [
        Leg(
            delivery=d,
            calls=[_call(a) for a in d.attempts.all()],
            mapping_version=version_of(d) if version_of else None,
        )
        for d in deliveries
    ]
    return {
        "journey_lead": lead,
        "journey_payload": pretty(lead.payload),
        "journey_fields": pretty(lead.fields),
        "journey_legs": legs,
        "journey_has_mapping_version": version_of is not None,
        "journey_single": only is not None,
    }
