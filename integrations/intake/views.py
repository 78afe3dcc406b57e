"""The inbound lead API (DESIGN.md "Inbound lead API"). Thin: parse, authenticate,
hand over to services, answer in JSON. Every error is a JSON body with `error`."""

from __future__ import annotations

import re
import time
import uuid

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from integrations.mapping.normalise import LeadInvalid, lead_fields
from integrations.models import Flow, Lead, LeadStatus

from .auth import flow_ids_for_key, intake_target, presented_key
from .errors import error
from .parsing import BodyLimits, UnsupportedMediaType, parse_body
from .ratelimit import source_over_limit
from .selectors import lead_document
from .services import lead_accept

MAX_IDEMPOTENCY_KEY = 200
# Ids are bigint primary keys: a larger number names no flow, and is never sent to SQL.
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")


# The API is authenticated by keys in headers, never by cookies: CSRF does not apply,
# and a wrong method is a 405 (made JSON by ApiErrorsMiddleware) rather than a 403.
@csrf_exempt
@require_POST
def lead_create(request: HttpRequest, flow_id: int) -> JsonResponse:
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    if not _DIGITS.fullmatch(raw_length):
        return error(
            400,
            "invalid",
            "Content-Length must be a number of bytes.",
            fields={"Content-Length": ["A whole number of bytes."]},
        )
    if int(raw_length) > settings.INTAKE_MAX_BODY_BYTES:
        return error(413, "too_large", f"The body is over {settings.INTAKE_MAX_BODY_BYTES} bytes.")
    if flow_id > MAX_ID:
        return error(404, "not_found", "No such flow.")
    target = intake_target(presented_key(request), flow_id=flow_id)
    if target is None:
        if not Flow.objects.filter(pk=flow_id, active=True).exists():
            return error(404, "not_found", "No such flow.")
        return error(401, "unauthorized", "Missing or invalid API key for this flow.")
    if source_over_limit(source_id=target.source_id, per_minute=target.rate_limit_per_minute):
        response = error(429, "rate_limited", "This source is over its intake rate.")
        response["Retry-After"] = "60"
        return response
    body = request.body
    if len(body) > settings.INTAKE_MAX_BODY_BYTES:  # chunked bodies have no Content-Length
        return error(413, "too_large", f"The body is over {settings.INTAKE_MAX_BODY_BYTES} bytes.")
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key and (len(key) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE_ASCII.fullmatch(key)):
        return error(
            400,
            "invalid",
            "Invalid Idempotency-Key.",
            fields={
                "Idempotency-Key": [f"At most {MAX_IDEMPOTENCY_KEY} printable ASCII characters."]
            },
        )
    try:
        payload = parse_body(
            body,
            request.content_type or request.headers.get("Content-Type", ""),
            limits=_body_limits(),
        )
        fields = lead_fields(payload, max_field_chars=settings.INTAKE_MAX_FIELD_CHARS)
    except UnsupportedMediaType as exc:
        return error(
            415,
            "unsupported_media_type",
            f"Send application/json or form fields, not {exc.args[0] or 'this'}.",
        )
    except LeadInvalid as exc:
        return error(400, "invalid", "The body is not a valid lead.", fields=exc.fields)
    try:
        wait = _wait_seconds(request)
    except ValueError:
        return error(
            400,
            "invalid",
            "wait must be a number of seconds from 0 to 30.",
            fields={"wait": ["A number of seconds from 0 to 30."]},
        )
    try:
        accepted = lead_accept(target=target, payload=payload, fields=fields, idempotency_key=key)
    except DatabaseError:
        return error(503, "unavailable", "The lead could not be stored; it was not accepted.")
    if wait:
        lead = _wait_for(accepted.lead_id, seconds=wait)
        if lead.status == LeadStatus.DONE:
            return JsonResponse(lead_document(lead), status=200)
    return JsonResponse(
        {"id": accepted.lead_id, "status": "queued", "url": accepted.api_path}, status=202
    )


@csrf_exempt
@require_GET
def lead_detail(request: HttpRequest, lead_id: str) -> JsonResponse:
    flow_ids = flow_ids_for_key(presented_key(request))
    if not flow_ids:
        return error(401, "unauthorized", "Missing or invalid API key.")
    try:
        lead = Lead.objects.get(pk=uuid.UUID(lead_id), flow_id__in=flow_ids)
    except (ValueError, Lead.DoesNotExist):
        return error(404, "not_found", "No such lead.")
    return JsonResponse(lead_document(lead))


def _body_limits() -> BodyLimits:
    return BodyLimits(
        max_depth=settings.INTAKE_MAX_DEPTH,
        max_values=settings.INTAKE_MAX_VALUES,
        max_fields=settings.INTAKE_MAX_FIELDS,
    )


def _wait_seconds(request: HttpRequest) -> float:
    raw = request.GET.get("wait")
    if raw is None:
        return 0
    value = float(raw)
    if not 0 <= value <= settings.INTAKE_MAX_WAIT_SECONDS:
        raise ValueError(raw)
    return value


def _wait_for(lead_id: str, *, seconds: float) -> Lead:
    """Poll until the lead's flow finishes or `seconds` pass."""
    lead = Lead.objects.get(pk=lead_id)
    deadline = time.monotonic() + seconds
    delay = 0.05
    while time.monotonic() < deadline:
        lead.refresh_from_db(fields=["status", "finished_at"])
        if lead.status == LeadStatus.DONE:
            break
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.5)
    return lead
