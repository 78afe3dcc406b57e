"""Keap REST v1 recipient: create or upsert a contact, add a person note, apply tags,
start campaign sequences.

# Reference: Keap REST v1 OpenAPI (shared/specs/keap-rest-v1.openapi.json) and
# shared/docs/crm-wire-spec.md §2 (endpoints, contact JSON), §4 (throttling), §7.1 (gotchas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests

from .base import ContactData, Credentials, CrmCalls, CrmError, DeliveryResult, StepPlan
from .http import json_or_empty, retry_after_seconds
from .operations import Operations, SavedContact

# Manually mapped Keap fields that are int64 in the v1 schema.
_INT_FIELDS = {"lead_source_id", "owner_id"}
# Manually mapped fields passed through as they are (seeds/000 "Manually Mapped Data").
_PASS_THROUGH = {
    "contact_type",
    "preferred_locale",
    "source_type",
    "preferred_name",
    "prefix",
    "spouse_name",
    "time_zone",
    "opt_in_reason",
    "anniversary",
}
# Keap's 400 messages → countable reasons (the messages never carry lead data anyway,
# but a fixed vocabulary keeps the health reports groupable).
_KNOWN_400 = (
    ("Region is invalid", "region invalid"),
    ("COUNTRY CODE needed", "country code required with region"),
    ("Input could not be converted", "invalid request"),
)


# Keap answers timestamps to the second (FullContact date_created / last_updated).
MATCH_SLACK = timedelta(seconds=1)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class KeapContact:
    """The parts of a Keap FullContact / RestPartialContact this client reads."""

    id: int
    given_name: str
    family_name: str
    company_name: str
    date_created: datetime | None = None
    last_updated: datetime | None = None

    @classmethod
    def parse(cls, data: Any) -> KeapContact:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise CrmError("unreadable CRM response", retryable=True)
        company = data.get("company") or {}
        return cls(
            id=data["id"],
            given_name=str(data.get("given_name") or ""),
            family_name=str(data.get("family_name") or ""),
            company_name=str(data.get("company_name") or company.get("company_name") or ""),
            date_created=_timestamp(data.get("date_created")),
            last_updated=_timestamp(data.get("last_updated")),
        )

    @property
    def matched(self) -> bool | None:
        """After PUT /v1/contacts: whether it updated an existing contact. A new one
        is created and last updated in the same moment; a match was created before
        and updated now. Within MATCH_SLACK the two cannot be told apart (a contact
        matched within a second of its creation reads as new). None: not answered."""
        if self.date_created is None or self.last_updated is None:
            return None
        return self.last_updated - self.date_created > MATCH_SLACK


def raise_for_status(response: requests.Response) -> None:
    """Turn a non-2xx Keap answer into a CrmError that says whether a retry may help."""
    status = response.status_code
    if status < 300:
        return
    body = json_or_empty(response)
    if status == 401:
        code = str(((body.get("fault") or {}).get("detail") or {}).get("errorcode", ""))
        reason = "access token expired" if "expired" in code else "authentication rejected"
        raise CrmError(reason, retryable=False, status=status, auth=True)
    if status == 429:
        raise CrmError(
            "rate limited by CRM",
            retryable=True,
            status=status,
            retry_after=retry_after_seconds(response),
        )
    if status >= 500:
        raise CrmError(f"CRM server error ({status})", retryable=True, status=status)
    if status == 403:
        raise CrmError("permission denied", retryable=False, status=status)
    if status == 404:
        raise CrmError("not found", retryable=False, status=status)
    if status == 409:
        raise CrmError("duplicate contact rejected", retryable=False, status=status, duplicate=True)
    if status == 400:
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        for needle, reason in _KNOWN_400:
            if needle in message:
                raise CrmError(reason, retryable=False, status=status)
        raise CrmError("rejected by CRM (400)", retryable=False, status=status)
    raise CrmError(f"unexpected response ({status})", retryable=False, status=status)


def contact_body(contact: ContactData, *, address_type: str = "BILLING") -> dict[str, Any]:
    """CreateOrPatchContact for one contact. Only non-empty fields are sent, so an
    update never blanks what the CRM already has."""
    body: dict[str, Any] = {}
    for key, value in (
        ("given_name", contact.first_name),
        ("middle_name", contact.middle_name),
        ("family_name", contact.last_name),
        ("suffix", contact.suffix),
        ("job_title", contact.job_title),
        ("website", contact.website),
    ):
        if value:
            body[key] = value
    if contact.email:
        body["email_addresses"] = [{"email": contact.email, "field": "EMAIL1"}]
    if contact.phones:
        body["phone_numbers"] = [
            {"number": number, "field": f"PHONE{n}"}
            for n, number in enumerate(contact.phones[:5], 1)
        ]
    if contact.has_address:
        address: dict[str, Any] = {"field": address_type}
        for key, value in (
            ("line1", contact.address_line1),
            ("line2", contact.address_line2),
            ("locality", contact.city),
            ("postal_code", contact.postal_code),
        ):
            if value:
                address[key] = value
        # §7.1.4: a region needs the alpha-3 country code, and is sent as ISO 3166-2.
        if contact.country_alpha3:
            address["country_code"] = contact.country_alpha3
        region = contact.region_code or contact.region_name
        if region and contact.country_alpha3:
            address["region"] = region
        body["addresses"] = [address]
    if contact.birthday:
        # §2.3: birthday is declared date-time.
        body["birthday"] = f"{contact.birthday.isoformat()}T00:00:00.000Z"
    if contact.custom_fields:
        body["custom_fields"] = [
            {"id": _as_int(key, "custom field id"), "content": value}
            for key, value in contact.custom_fields.items()
        ]
    for key, value in contact.extra.items():
        if key in _INT_FIELDS:
            body[key] = _as_int(value, key.replace("_", " "))
        elif key in _PASS_THROUGH:
            body[key] = str(value)
        elif key == "origin_ip":
            body["origin"] = {"ip_address": str(value)}
        else:
            raise CrmError(f"unknown Keap field in mapping: {key}"[:120], retryable=False)
    return body


def _as_int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise CrmError(f"{what} is not a number", retryable=False) from None


class KeapRestApi:
    """The few Keap REST v1 calls a delivery needs. Every call raises CrmError on failure."""

    def __init__(self, http: CrmCalls, credentials: Credentials):
        self.http = http
        self.root = f"{credentials.base_url.rstrip('/')}/rest/v1"
        self.headers = {"Accept": "application/json"}
        if credentials.api_key:
            self.headers["X-Keap-API-Key"] = credentials.api_key  # §1.2 PAT / SAK
        else:
            self.headers["Authorization"] = f"Bearer {credentials.access_token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.root}{path}", headers=self.headers, **kwargs)
        raise_for_status(response)
        return json_or_empty(response) if response.content else {}

    # Reference: POST /v1/contacts (201, never dedupes) — §2.2, §7.1.1
    def create(self, body: dict[str, Any]) -> KeapContact:
        return KeapContact.parse(self._call("POST", "/contacts", json=body))

    # Reference: PUT /v1/contacts with body duplicate_option Email|EmailAndName — §7.1.2
    def upsert(self, body: dict[str, Any], duplicate_option: str) -> KeapContact:
        payload = {**body, "duplicate_option": duplicate_option}
        return KeapContact.parse(self._call("PUT", "/contacts", json=payload))

    # Reference: PATCH /v1/contacts/{id} — §2.2
    def update(self, contact_id: int, body: dict[str, Any]) -> KeapContact:
        return KeapContact.parse(self._call("PATCH", f"/contacts/{contact_id}", json=body))

    # Reference: GET /v1/contacts?email=… (partial contacts) — §2.2
    def find_by_email(self, email: str) -> list[KeapContact]:
        data = self._call("GET", "/contacts", params={"email": email, "limit": 50})
        contacts = data.get("contacts") if isinstance(data, dict) else None
        return [KeapContact.parse(c) for c in contacts or []]

    # Reference: POST /v1/notes (RequestNote) — §2.4: REST v1 has no `notes` field
    # any more, so a lead's comments go to a note record on the contact.
    def add_note(self, contact_id: int, body: str) -> None:
        self._call(
            "POST",
            "/notes",
            json={
                "contact_id": contact_id,
                "title": "Lead comments",
                "body": body,
                "type": "Other",
            },
        )

    # Reference: GET /v1/notes?contact_id=
    def note_bodies(self, contact_id: int) -> list[str]:
        data = self._call("GET", "/notes", params={"contact_id": contact_id, "limit": 200})
        return [str(n.get("body", "")) for n in (data.get("notes") or [])]

    # Reference: GET /v1/companies?company_name= and POST /v1/companies (CreateCompany) —
    # §2.3: a contact's `company` on a request is `{id}` only, so a lead's company name
    # is found or created as a company record first.
    def company_id(self, name: str) -> int:
        data = self._call("GET", "/companies", params={"company_name": name, "limit": 10})
        for company in (data.get("companies") or []) if isinstance(data, dict) else []:
            if str(company.get("company_name", "")).casefold() == name.casefold():
                return int(company["id"])
        created = self._call("POST", "/companies", json={"company_name": name})
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise CrmError("unreadable CRM response", retryable=True)
        return created["id"]

    # Reference: POST /v1/contacts/{id}/tags — 200 with a per-tag status (§7.1.8)
    def apply_tags(self, contact_id: int, tag_ids: list[int]) -> dict[str, str]:
        data = self._call("POST", f"/contacts/{contact_id}/tags", json={"tagIds": tag_ids})
        if isinstance(data, list):  # the spec's array-of-{key} form
            return {str(item.get("key")): str(item.get("value")) for item in data}
        return {str(k): str(v) for k, v in (data or {}).items()}

    # Reference: POST /v1/campaigns/{c}/sequences/{s}/contacts/{id} — 204
    def add_to_sequence(self, campaign_id: int, sequence_id: int, contact_id: int) -> None:
        self._call(
            "POST", f"/campaigns/{campaign_id}/sequences/{sequence_id}/contacts/{contact_id}"
        )


def matches(found: KeapContact, contact: ContactData, duplicate_match: str) -> bool:
    """Whether an existing contact (already matched by email) is the same person."""
    if duplicate_match == "Email":
        return True
    same_name = (
        found.given_name.casefold() == contact.first_name.casefold()
        and found.family_name.casefold() == contact.last_name.casefold()
    )
    if duplicate_match == "EmailAndName":
        return same_name
    return same_name and found.company_name.casefold() == contact.company.casefold()


class KeapRestRecipient:
    """Delivers one contact through Keap REST v1, one operation per CRM call (see
    integrations.crm.operations): company, contact, note, tags, each sequence.

    Calls per lead: one to save the contact (PUT's answer tells a match from a new
    contact by its timestamps, so no look-up first); a look-up only for
    EmailAndNameAndCompany, for `preserve_fields`, or for a create that an earlier
    try may have made; then one per note, tag set and sequence.
    """

    kind: ClassVar[str] = "keap_rest"

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
        api = KeapRestApi(http, credentials)
        company_id: int | None = None
        if contact.company:
            # Look-up before create: safe to repeat.
            company_id = ops.run("company", lambda _: api.company_id(contact.company))
        saved = ops.save_contact(
            lambda sent: self._save(api, contact, plan, company_id, sent),
            repeatable=plan.action != "create",
        )
        contact_id = int(saved.id)
        if contact.notes:
            ops.run(
                "note",
                lambda sent: self._note(api, contact_id, contact.notes, sent),
                repeatable=False,
            )
        if plan.tag_ids:
            tag_ids = [_as_int(t, "tag id") for t in plan.tag_ids]
            ops.run("tags", lambda _: self._tags(api, contact_id, tag_ids))
        for item in plan.sequences:
            campaign = _as_int(item.get("campaign_id"), "campaign id")
            sequence = _as_int(item.get("sequence_id"), "sequence id")
            ops.run(
                f"sequence:{campaign}/{sequence}",
                lambda _, c=campaign, q=sequence: api.add_to_sequence(c, q, contact_id),
            )
        return DeliveryResult("success", "", saved.id, saved.duplicate)

    def _save(
        self,
        api: KeapRestApi,
        contact: ContactData,
        plan: StepPlan,
        company_id: int | None,
        sent: bool,
    ) -> SavedContact:
        def body(of: ContactData) -> dict[str, Any]:
            data = contact_body(of, address_type=plan.address_type)
            if company_id is not None and of.company:  # not when the company is kept
                data["company"] = {"id": company_id}
            return data

        if plan.action == "create":
            # A plain create never dedupes: look first only when an earlier try may
            # have created it, and then adopt that contact.
            match = self._existing(api, contact, "EmailAndName") if sent else None
            saved = match or api.create(body(contact))
            return SavedContact(str(saved.id), False)
        if plan.action != "create_or_update":
            raise CrmError("unsupported action", retryable=False)
        if plan.duplicate_match == "EmailAndNameAndCompany" or plan.preserve_fields:
            # v1's PUT cannot match on company (§7.1.2), and kept fields need to know
            # whether the contact exists: find it, then update it or create.
            match = self._existing(api, contact, plan.duplicate_match)
            if match is not None:
                kept = contact.without(plan.preserve_fields)
                return SavedContact(str(api.update(match.id, body(kept)).id), True)
            if plan.duplicate_match == "EmailAndNameAndCompany":
                return SavedContact(str(api.create(body(contact)).id), False)
        # PUT is an atomic upsert on Keap's side, so a retry never makes a twin.
        saved = api.upsert(body(contact), plan.duplicate_match)
        return SavedContact(str(saved.id), saved.matched)

    @staticmethod
    def _note(api: KeapRestApi, contact_id: int, text: str, sent: bool) -> None:
        # POST /v1/notes is not idempotent: after a try that may have added it, look.
        if sent and text in api.note_bodies(contact_id):
            return
        api.add_note(contact_id, text)

    @staticmethod
    def _tags(api: KeapRestApi, contact_id: int, tag_ids: list[int]) -> None:
        statuses = api.apply_tags(contact_id, tag_ids)
        if any(s == "TAG_ID_NOT_FOUND" for s in statuses.values()):
            raise CrmError("tag id not found", retryable=False)

    @staticmethod
    def _existing(api: KeapRestApi, contact: ContactData, match_rule: str) -> KeapContact | None:
        if not contact.email:
            return None
        candidates = [
            c for c in api.find_by_email(contact.email) if matches(c, contact, match_rule)
        ]
        return min(candidates, key=lambda c: c.id) if candidates else None
