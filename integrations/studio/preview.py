"""Preview: what a lead would send through one step, with no network call.

The step is mapped exactly as the delivery engine maps it (integrations.mapping's
step_map, with rule traces), then the step's own recipient runs against a recording
session that answers as the CRM would for a new contact (`CrmSpec.preview_answer`).
So the requests shown are the ones the recipient's code builds — method, URL, body —
not a second rendering of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from integrations.crm.base import Credentials, CrmError
from integrations.crm.http import redact_body, redact_url
from integrations.crm.registry import api_base_url, crm_of_recipient, recipient_for
from integrations.crm.spec import PreviewAnswer
from integrations.mapping.context import SystemFields, lead_context
from integrations.mapping.normalise import LeadInvalid, lead_fields
from integrations.mapping.selectors import lead_context_load, step_config_load
from integrations.mapping.step_map import MappedStep, step_map
from integrations.models import AuthType, Lead, Step

PREVIEW_SECRET = "preview-credential"
MAX_CALLS = 50


class SampleInvalid(ValueError):
    """A pasted sample that is not a lead (message says why)."""


@dataclass(frozen=True)
class PreviewCall:
    method: str
    url: str
    body: str  # pretty-printed JSON, or the XML as sent


@dataclass
class Preview:
    mapped: MappedStep
    context: dict[str, Any]
    calls: list[PreviewCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the CRM call would say


class RecordingSession:
    """The CrmCalls seam, recording each request and answering from the CRM's spec."""

    def __init__(self, answer: Any):
        self.answer = answer
        self.calls: list[PreviewCall] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if len(self.calls) >= MAX_CALLS:
            raise CrmError("too many calls for a preview", retryable=False)
        kwargs.pop("timeout", None)
        prepared = requests.Request(method, url, **kwargs).prepare()
        body = prepared.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        self.calls.append(
            PreviewCall(
                method=method.upper(),
                url=redact_url(prepared.url or url),
                body=_pretty(redact_body(raw, prepared.headers.get("Content-Type", ""))),
            )
        )
        answer: PreviewAnswer = self.answer(method.upper(), prepared.url or url, raw)
        response = requests.Response()
        response.status_code = answer.status
        response.headers["Content-Type"] = answer.content_type
        response._content = answer.body
        response.url = prepared.url or url
        return response


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def sample_fields(text: str) -> dict[str, Any]:
    """A pasted sample: a JSON object, or "name: value" lines. Normalised as intake does.
    Raises SampleInvalid."""
    text = text.strip()
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"The sample is not valid JSON ({exc.msg}, line {exc.lineno})."
            raise SampleInvalid(message) from None
    else:
        payload = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep:
                name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise SampleInvalid(f"Line {number}: write it as “field: value”.")
            payload[name.strip()] = value.strip()
    try:
        return lead_fields(payload, max_field_chars=settings.INTAKE_MAX_FIELD_CHARS)
    except LeadInvalid as exc:
        raise SampleInvalid(str(exc)) from None


def step_preview(
    *, step: Step, lead: Lead | None = None, fields: dict[str, Any] | None = None
) -> Preview:
    """Map `lead` (or sample `fields`) through `step` and record the calls the step's
    recipient would make. Makes no network call and writes nothing."""
    config = step_config_load(step=step)
    if lead is not None:
        context = lead_context_load(lead=lead, before_step=step)
    else:
        system = SystemFields(
            lead_id="preview",
            received_at=timezone.now(),
            flow=step.flow.name,
            flow_id=step.flow_id,
            source="preview",
            now=timezone.now(),
        )
        context = lead_context(fields=fields or {}, system=system, steps={})
    mapped = step_map(config=config, context=context, explain=True)
    preview = Preview(mapped=mapped, context=context)
    if mapped.contact is None or mapped.plan is None or not step.recipient:
        return preview
    session = RecordingSession(crm_of_recipient(step.recipient).preview_answer)
    account = step.account
    api_key = account is not None and account.auth_type == AuthType.API_KEY
    credentials = Credentials(
        base_url=api_base_url(step.recipient),
        api_key=PREVIEW_SECRET if api_key else "",
        access_token="" if api_key else PREVIEW_SECRET,
        location_id=account.external_id if account else "",
    )
    try:
        result = recipient_for(step.recipient).deliver(
            contact=mapped.contact, plan=mapped.plan, credentials=credentials, http=session
        )
        if result.outcome != "success":
            preview.problems.append(f"{result.outcome}: {result.reason}")
    except CrmError as exc:
        preview.problems.append(f"The {step.get_recipient_display()} call would fail: {exc.reason}")
    preview.calls = session.calls
    return preview
