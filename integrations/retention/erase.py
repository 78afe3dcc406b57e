"""Erase this person: every trace of an email address or phone number in leads
(payload, fields, email column, field revisions) and attempts (request and response
bodies, headers, URL query strings).

The audit log records that an erasure happened and how many rows it touched, never
what was searched for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from integrations.audit.services import audit_record
from integrations.models import Attempt, AuditAction, Lead, LeadRevision

from .scrub import attempts_scrub, batches, leads_scrub

_DIGITS = re.compile(r"\D")
# Phones are compared on their last 10 digits (a national number), so "+1 602 555 0101",
# "(602) 555-0101" and "6025550101" are one person.
PHONE_DIGITS = 10


class ErasureError(ValueError):
    pass


@dataclass(frozen=True)
class ErasureReport:
    leads: int
    revisions: int
    attempts: int

    def __str__(self) -> str:
        return (
            f"erased {self.leads} lead{'s' * (self.leads != 1)}, "
            f"{self.revisions} field revision{'s' * (self.revisions != 1)} and "
            f"{self.attempts} attempt{'s' * (self.attempts != 1)}"
        )


def _phone_key(value: str) -> str:
    return _DIGITS.sub("", value)[-PHONE_DIGITS:]


def _values(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [v for item in data.values() for v in _values(item)]
    if isinstance(data, list):
        return [v for item in data for v in _values(item)]
    return [str(data)] if data is not None else []


def _as_text(field: str) -> Cast:
    return Cast(field, output_field=TextField())


def _lead_matches(lead: Lead, *, email: str, phone: str) -> list[str]:
    """The strings in this lead that are the person (empty: not them)."""
    found = []
    revisions = [v for r in lead.revisions.all() for v in (*_values(r.before), *_values(r.after))]
    for value in (*_values(lead.payload), *_values(lead.fields), lead.email, *revisions):
        if email and email in value.lower():
            found.append(value)
        elif phone and len(_phone_key(value)) >= 7 and _phone_key(value) == phone:
            found.append(value)
    return found


def person_erase(*, email: str = "", phone: str = "", user: Any) -> ErasureReport:
    """Erase every lead and attempt holding this email or phone. Raises ErasureError
    when neither is given (or the phone has too few digits to be one person)."""
    email = email.strip().lower()
    phone = _phone_key(phone) if phone.strip() else ""
    if not email and not phone:
        raise ErasureError("Give an email address or a phone number.")
    if phone and len(phone) < 7:
        raise ErasureError("A phone number needs at least 7 digits.")
    needle = email or phone[-4:]  # a cheap SQL pre-filter; exact matching in Python
    text_q = (
        Q(payload_text__icontains=needle)
        | Q(fields_text__icontains=needle)
        | Q(
            pk__in=LeadRevision.objects.annotate(b=_as_text("before"), a=_as_text("after"))
            .filter(Q(b__icontains=needle) | Q(a__icontains=needle))
            .values("lead_id")
        )
    )
    if email:
        text_q |= Q(email=email)
    candidates = (
        Lead.objects.annotate(payload_text=_as_text("payload"), fields_text=_as_text("fields"))
        .filter(text_q)
        .prefetch_related("revisions")
    )
    lead_ids, needles = [], {email} if email else set()
    for lead in candidates.iterator(chunk_size=500):
        found = _lead_matches(lead, email=email, phone=phone)
        if found:
            lead_ids.append(lead.pk)
            needles.update(v for v in found if len(v) >= 5)
    if phone:
        needles.add(phone)
    leads = revisions = 0
    for ids in batches(lead_ids, settings.RETENTION_BATCH):
        n_leads, n_revisions = leads_scrub(lead_ids=ids)
        leads, revisions = leads + n_leads, revisions + n_revisions
    attempts = _attempts_erase(lead_ids=lead_ids, needles=needles)
    report = ErasureReport(leads, revisions, attempts)
    audit_record(actor=user, action=AuditAction.ERASURE, summary=f"a person's data: {report}")
    return report


def _attempts_erase(*, lead_ids: list[Any], needles: set[str]) -> int:
    """Every attempt of the person's leads, and any other attempt whose body, headers
    or URL holds one of their values (a CRM answer naming them, a shared contact)."""
    mention = Q()
    for needle in needles:
        for column in ("request_body", "response_body", "url"):
            mention |= Q(**{f"{column}__icontains": needle})
        for column in ("request_headers", "response_headers"):
            mention |= Q(**{f"{column}_text__icontains": needle})
    query = Attempt.objects.annotate(
        request_headers_text=_as_text("request_headers"),
        response_headers_text=_as_text("response_headers"),
    )
    ids: set[int] = set()
    for chunk in batches(lead_ids, 500):
        ids.update(query.filter(delivery__lead_id__in=chunk).values_list("pk", flat=True))
    if needles:
        ids.update(query.filter(mention).values_list("pk", flat=True))
    return sum(
        attempts_scrub(attempt_ids=batch)
        for batch in batches(sorted(ids), settings.RETENTION_BATCH)
    )
