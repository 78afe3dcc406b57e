"""HighLevel (LeadConnector) API v2 recipient: create or upsert a contact, add tags,
enrol it in workflows and campaigns.

# Reference: HighLevel contacts OpenAPI (shared/specs/highlevel-contacts.openapi.json,
# GoHighLevel/highlevel-api-docs apps/contacts.json) and shared/docs/crm-wire-spec.md
# §6 (transport, errors, rate limits) and §7.3 (gotchas).

What a contact body carries, and what it cannot:
- HighLevel contacts have one address line: a lead's address line 2 is appended to
  `address1` after ", " rather than dropped (mail to "Apt 4" must still arrive).
- One phone: the first of `ContactData.phones`; the others have nowhere to go.
- No middle name, suffix, job title or notes on a v2 contact: those are not sent.
- `state` is the 2-letter subdivision from `region_code` ("US-TX" → "TX") when known.
- Tags are names, and are never put in a create/upsert body: on upsert they would
  REPLACE the contact's tags (§7.3.3). They go through POST /contacts/{id}/tags.
- `plan.duplicate_match` is a Keap notion: HighLevel matches by the location's own
  "Allow Duplicate Contact" setting (email, then phone).
- A 422 on create is a `failure` even though HighLevel may have created the contact
  anyway (§7.3.4): a lookup afterwards could not tell it from a pre-existing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from .base import ContactData, Credentials, CrmCalls, CrmError, DeliveryResult, StepPlan
from .http import json_or_empty, retry_after_seconds
from .operations import Operations, SavedContact

API_VERSION = "2021-07-28"  # §6.1: the contacts operations declare exactly this one
# CreateContactDto properties a mapping may set by hand through `contact.extra`. Not
# `locationId`, `tags` or `customFields`: this module owns those.
EXTRA_FIELDS = frozenset(
    """firstName lastName name email phone gender address1 city state postalCode country
    website timezone dnd dndSettings inboundDndSettings source dateOfBirth companyName
    assignedTo""".split()
)
# 422 messages are class-validator's ("email must be an email", "property x should not
# exist", "each value in tags must be a string"): the field name is read from them and
# kept only when it is one of these, so no lead data can reach a reason (CONVENTIONS).
_KNOWN_FIELDS = EXTRA_FIELDS | {"locationId", "tags", "customFields"}
_FIELD_IN_MESSAGE = re.compile(r"^(?:each value in (?:nested property )?)?([A-Za-z]+)[\s.]")
_NOT_FOUND = re.compile(r"^(Contact|Workflow|Campaign) with id .* not found$")


@dataclass(frozen=True)
class HighLevelContact:
    """A contact in a create / upsert / get / duplicate-search answer."""

    id: str
    new: bool | None = None

    @classmethod
    def parse(cls, data: Any, *, new: Any = None) -> HighLevelContact:
        contact_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(contact_id, str) or not re.fullmatch(r"[A-Za-z0-9]{1,64}", contact_id):
            raise CrmError("unreadable CRM response", retryable=True)
        return cls(id=contact_id, new=new if isinstance(new, bool) else None)


@dataclass(frozen=True)
class ErrorBody:
    """HighLevel's NestJS error body (§6.5): `message` is a string, or a list on 422."""

    messages: tuple[str, ...]
    duplicate_of: str = ""  # meta.contactId of the duplicate 400

    @classmethod
    def parse(cls, data: Any) -> ErrorBody:
        if not isinstance(data, dict):
            return cls(messages=())
        message = data.get("message")
        items = message if isinstance(message, list) else [message]
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        duplicate = meta.get("contactId")
        return cls(
            messages=tuple(str(m) for m in items if isinstance(m, str)),
            duplicate_of=duplicate if isinstance(duplicate, str) else "",
        )


def validation_reason(messages: tuple[str, ...]) -> str:
    """A 422's reason: "invalid email", "validation failed: email, phone", or
    "validation failed" when no known field is named."""
    fields: list[str] = []
    for message in messages:
        match = _FIELD_IN_MESSAGE.match(message)
        if message.startswith("property ") and message.endswith(" should not exist"):
            field = "unsupported field"  # NestJS whitelist: a key HighLevel does not have
        else:
            field = match.group(1) if match and match.group(1) in _KNOWN_FIELDS else ""
        if field and field not in fields:
            fields.append(field)
    if fields == ["unsupported field"]:
        return "unsupported field"
    if len(fields) == 1:
        return f"invalid {fields[0]}"
    return f"validation failed: {', '.join(fields)}" if fields else "validation failed"


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After if sent (§6.4: undocumented), else derived from the X-RateLimit-*
    headers: a spent daily quota waits for the next UTC day, a spent burst one window."""
    explicit = retry_after_seconds(response)
    if explicit is not None:
        return explicit
    headers = response.headers
    if headers.get("X-RateLimit-Daily-Remaining") == "0":
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()
    try:
        return int(headers["X-RateLimit-Interval-Milliseconds"]) / 1000
    except (KeyError, ValueError):
        return None


def raise_for_status(response: requests.Response, *, what: str = "contact") -> None:
    """Turn a non-2xx HighLevel answer into a CrmError that says whether a retry may help.
    `what` names the call ("contact", "tags", "workflow", "campaign") in 400 reasons."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 401:
        raise CrmError("authentication rejected", retryable=False, status=status, auth=True)
    if status == 403:  # "The token is not authorized for this location." (§7.3.9)
        raise CrmError("location not authorized", retryable=False, status=status, auth=True)
    if status == 429:
        raise CrmError(
            "rate limited by CRM", retryable=True, status=status, retry_after=_retry_after(response)
        )
    if status >= 500:
        raise CrmError(f"CRM server error ({status})", retryable=True, status=status)
    body = ErrorBody.parse(json_or_empty(response))
    if status == 422:
        raise CrmError(validation_reason(body.messages), retryable=False, status=status)
    if status == 400:
        if body.duplicate_of:
            raise CrmError(
                "duplicate contact rejected",
                retryable=False,
                status=status,
                contact_id=body.duplicate_of,
                duplicate=True,
            )
        found = _NOT_FOUND.match(body.messages[0]) if body.messages else None
        if found:
            raise CrmError(f"{found.group(1).lower()} not found", retryable=False, status=status)
        reason = "rejected by CRM" if what == "contact" else f"{what} rejected by CRM"
        raise CrmError(reason, retryable=False, status=status)
    if status == 404:  # NestJS "Cannot POST /…": a wrong base URL, not a lead problem
        raise CrmError("CRM endpoint not found", retryable=False, status=status, outcome="error")
    raise CrmError(f"unexpected response ({status})", retryable=False, status=status)


def contact_body(contact: ContactData, *, location_id: str) -> dict[str, Any]:
    """CreateContactDto / UpsertContactDto for one contact. Empty values are left out,
    so an upsert never blanks what the CRM already has."""
    address1 = ", ".join(p for p in (contact.address_line1, contact.address_line2) if p)
    region = contact.region_code.partition("-")[2] if "-" in contact.region_code else ""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    body: dict[str, Any] = {"locationId": location_id}
    for key, value in (
        ("firstName", contact.first_name),
        ("lastName", contact.last_name),
        ("name", name),
        ("email", contact.email),
        ("phone", contact.phones[0] if contact.phones else ""),
        ("address1", address1),
        ("city", contact.city),
        ("state", region or contact.region_name),
        ("postalCode", contact.postal_code),
        ("country", contact.country_alpha2),
        ("website", contact.website),
        ("companyName", contact.company),
        ("dateOfBirth", contact.birthday.isoformat() if contact.birthday else ""),
    ):
        if value:
            body[key] = value
    for key, value in contact.extra.items():
        if key not in EXTRA_FIELDS:
            raise CrmError(f"unknown HighLevel field in mapping: {key}"[:120], retryable=False)
        if value not in (None, ""):
            body[key] = value
    if contact.custom_fields:
        # §6.3: requests say `field_value` (responses say `value`).
        body["customFields"] = [
            {"id": str(field_id), "field_value": value}
            for field_id, value in contact.custom_fields.items()
        ]
    return body


class HighLevelApi:
    """The few HighLevel v2 calls a delivery needs. Every call raises CrmError on failure."""

    def __init__(self, http: CrmCalls, credentials: Credentials):
        token = credentials.access_token or credentials.api_key
        if not token or not credentials.location_id:
            raise CrmError("account is not connected", retryable=False, auth=True)
        self.http = http
        self.root = credentials.base_url.rstrip("/")
        self.location_id = credentials.location_id
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Version": API_VERSION,
            "Accept": "application/json",
        }

    def _call(self, method: str, path: str, *, what: str = "contact", **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.root}{path}", headers=self.headers, **kwargs)
        raise_for_status(response, what=what)
        return json_or_empty(response)

    # Reference: POST /contacts/ (create-contact) → 201 {"contact": {...}} — §6.3, §7.3.1
    def create(self, body: dict[str, Any]) -> HighLevelContact:
        data = self._call("POST", "/contacts/", json=body)
        return HighLevelContact.parse(data.get("contact"), new=True)

    # Reference: POST /contacts/upsert (upsert-contact) → 200 {"new", "contact"} — §6.3, §7.3.2
    def upsert(self, body: dict[str, Any]) -> HighLevelContact:
        data = self._call("POST", "/contacts/upsert", json=body)
        return HighLevelContact.parse(data.get("contact"), new=data.get("new"))

    # Reference: GET /contacts/search/duplicate?locationId=&email=&number= (get-duplicate-
    # contact); requests encodes "+" and "@" as %2B / %40, as the spec asks.
    def find_duplicate(self, *, email: str, phone: str) -> HighLevelContact | None:
        params = {"locationId": self.location_id}
        params.update({k: v for k, v in (("email", email), ("number", phone)) if v})
        data = self._call("GET", "/contacts/search/duplicate", params=params)
        found = data.get("contact") if isinstance(data, dict) else None
        return HighLevelContact.parse(found, new=False) if found else None

    # Reference: PUT /contacts/{contactId} (update-contact) → 200 {"succeded", "contact"}
    def update(self, contact_id: str, body: dict[str, Any]) -> HighLevelContact:
        data = self._call("PUT", f"/contacts/{contact_id}", json=body)
        return HighLevelContact.parse(data.get("contact"), new=False)

    # Reference: POST /contacts/{contactId}/tags (add-tags) → 201 {"tags": [...]} — §7.3.3
    def add_tags(self, contact_id: str, tags: list[str]) -> None:
        self._call("POST", f"/contacts/{contact_id}/tags", what="tags", json={"tags": tags})

    # Reference: POST /contacts/{contactId}/workflow/{workflowId} → 200 {"succeded": true}
    def add_to_workflow(self, contact_id: str, workflow_id: str) -> None:
        data = self._call(
            "POST", f"/contacts/{contact_id}/workflow/{workflow_id}", what="workflow", json={}
        )
        _require_succeded(data, "workflow")

    # Reference: POST /contacts/{contactId}/campaigns/{campaignId} → 201 {"succeded": true}
    def add_to_campaign(self, contact_id: str, campaign_id: str) -> None:
        data = self._call(
            "POST", f"/contacts/{contact_id}/campaigns/{campaign_id}", what="campaign", json={}
        )
        _require_succeded(data, "campaign")


def _require_succeded(data: Any, what: str) -> None:
    # §7.3.5: the key is misspelled by HighLevel itself.
    if not (isinstance(data, dict) and data.get("succeded") is True):
        raise CrmError(f"{what} enrolment not confirmed", retryable=False)


class HighLevelRecipient:
    """Delivers one contact through HighLevel's contacts v2, one operation per call
    (see integrations.crm.operations): contact, tags, each workflow and campaign.

    Calls per lead: one to save the contact (upsert answers `new`); a duplicate
    search first only for `preserve_fields` or for a create that an earlier try may
    have made; then one for the tags and one per workflow and campaign.
    """

    kind: ClassVar[str] = "highlevel"

    def deliver(
        self,
        *,
        contact: ContactData,
        plan: StepPlan,
        credentials: Credentials,
        http: CrmCalls,
        operations: Operations | None = None,
    ) -> DeliveryResult:
        ops = operations or Operations(assume_sent=plan.may_have_been_sent)
        api = HighLevelApi(http, credentials)
        try:
            saved = ops.save_contact(
                lambda sent: self._save(api, contact, plan, sent),
                repeatable=plan.action != "create",
            )
        except CrmError as exc:
            if exc.duplicate and exc.contact_id:
                return DeliveryResult("failure", exc.reason, exc.contact_id, True)
            raise
        tags = [str(t).strip() for t in plan.tag_ids if str(t).strip()]
        if tags:
            ops.run("tags", lambda _: api.add_tags(saved.id, tags))
        for workflow_id in plan.options.get("workflow_ids") or ():
            ops.run(
                f"workflow:{workflow_id}",
                lambda _, w=str(workflow_id): api.add_to_workflow(saved.id, w),
            )
        for item in plan.sequences:
            campaign_id = item.get("campaign_id") if isinstance(item, dict) else None
            if not campaign_id:
                raise CrmError("campaign id missing", retryable=False)
            ops.run(
                f"campaign:{campaign_id}",
                lambda _, c=str(campaign_id): api.add_to_campaign(saved.id, c),
            )
        return DeliveryResult("success", "", saved.id, saved.duplicate)

    @staticmethod
    def _save(api: HighLevelApi, contact: ContactData, plan: StepPlan, sent: bool) -> SavedContact:
        body = contact_body(contact, location_id=api.location_id)
        if plan.action == "create_or_update":
            if plan.preserve_fields:
                found = api.find_duplicate(email=body.get("email", ""), phone=body.get("phone", ""))
                if found:
                    kept = contact_body(contact.without(plan.preserve_fields), location_id="")
                    kept.pop("locationId", None)  # UpdateContactDto has no locationId
                    return SavedContact(api.update(found.id, kept).id, True)
            if plan.options.get("allow_duplicates"):
                body = {**body, "createNewIfDuplicateAllowed": True}
            saved = api.upsert(body)  # atomic on HighLevel's side: safe to repeat
            return SavedContact(saved.id, None if saved.new is None else not saved.new)
        if plan.action != "create":
            raise CrmError("unsupported action", retryable=False)
        if sent and (body.get("email") or body.get("phone")):
            # POST /contacts/ is not idempotent: an earlier try may have created the
            # contact before its answer was lost (a timeout, a 5xx, §7.3.4's "422 yet
            # created"). Adopting a match (which may also be a pre-existing contact)
            # is preferred over ever creating a twin.
            found = api.find_duplicate(email=body.get("email", ""), phone=body.get("phone", ""))
            if found:
                return SavedContact(found.id, None)
        return SavedContact(api.create(body).id, False)
