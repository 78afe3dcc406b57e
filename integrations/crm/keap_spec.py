"""Keap (Infusionsoft): everything the app needs to know of it, as one CrmSpec.

Its two recipients (REST v1, legacy XML-RPC) deliver contacts; this module says how to
connect (OAuth app or API key), what the account holds (the catalogue fetch), which
fields a step can map and what a step's tag / sequence settings mean.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

from .base import Credentials, CrmCalls, CrmError
from .keap_rest import KeapRestApi, KeapRestRecipient
from .keap_xmlrpc import XMLRPC_PATH, ContactServiceClient, KeapXmlRpcRecipient
from .spec import (
    CatalogueOptional,
    CrmSpec,
    FieldSpec,
    ListSpec,
    OAuthSpec,
    PreviewAnswer,
    RateLimits,
    RecipientSpec,
    catalogue_collect,
    catalogue_items,
    json_answer,
)

_PAGE = 1000
_MAX_PAGES = 10
_MAX_CAMPAIGNS = 50

# The 17 fields LeadConduit maps automatically (its "Infusionsoft: Create Contact" page),
# with Keap's names for them. `name` is the ContactData attribute.
STANDARD_FIELDS = (
    FieldSpec("first_name", "First Name", lead_field="first_name"),
    FieldSpec("middle_name", "Middle Name", lead_field="middle_name"),
    FieldSpec("last_name", "Last Name", lead_field="last_name"),
    FieldSpec("suffix", "Name Suffix", lead_field="suffix"),
    FieldSpec("email", "Email", "email", lead_field="email"),
    FieldSpec("phones", "Phone 1", "phone", lead_field="phone_1"),
    FieldSpec("phones", "Phone 2", "phone", lead_field="phone_2"),
    FieldSpec("phones", "Phone 3", "phone", lead_field="phone_3"),
    FieldSpec("address_line1", "Street Address 1", lead_field="address_1"),
    FieldSpec("address_line2", "Street Address 2", lead_field="address_2"),
    FieldSpec("city", "City", lead_field="city"),
    FieldSpec("region_name", "State", lead_field="state"),
    FieldSpec("postal_code", "Postal Code", lead_field="postal_code"),
    FieldSpec("website", "Website", "url", lead_field="website"),
    FieldSpec("notes", "Person Notes", lead_field="comments"),
    FieldSpec("job_title", "Job Title", lead_field="title"),
    FieldSpec("birthday", "Date of Birth", "date", lead_field="dob"),
)

# Reference: https://developer.keap.com/docs/rest/#tag/Contact/operation/createContactUsingPOST
# (CreateOrPatchContact: source_type's enum, int64 owner_id / lead_source_id).
_SOURCE_TYPES = tuple(
    (v, v.title())
    for v in (
        "API APPOINTMENT FORMAPIHOSTED FORMAPIINTERNAL WEBFORM INTERNALFORM LANDINGPAGE "
        "IMPORT MANUAL OTHER UNKNOWN"
    ).split()
)
REST_MANUAL_FIELDS = (
    FieldSpec("contact_type", "Contact Type", "choice", catalogue="contact_types"),
    FieldSpec("lead_source_id", "Lead Source", "integer", catalogue="lead_sources"),
    FieldSpec("owner_id", "Owner", "integer", catalogue="owners"),
    FieldSpec("preferred_locale", "Preferred Locale", help="e.g. en_US"),
    FieldSpec("source_type", "Source Type", "choice", choices=_SOURCE_TYPES),
    FieldSpec("opt_in_reason", "Opt-in Reason", help="Makes the email marketable"),
    FieldSpec("time_zone", "Time Zone", help="e.g. America/Chicago"),
)
# Reference: Keap XML-RPC Contact table (https://developer.infusionsoft.com/docs/table-schema/).
XMLRPC_MANUAL_FIELDS = (
    FieldSpec("ContactType", "Contact Type", "choice", catalogue="contact_types"),
    FieldSpec("LeadSourceId", "Lead Source", "integer", catalogue="lead_sources"),
    FieldSpec("OwnerID", "Owner", "integer", catalogue="owners"),
    FieldSpec("Language", "Preferred Locale", help="e.g. en_US"),
    FieldSpec("TimeZone", "Time Zone", help="e.g. America/Chicago"),
)

# Keap's custom field types (GET /v1/contacts/model `field_type`) as value kinds.
CUSTOM_FIELD_KINDS = {
    "WholeNumber": "integer",
    "DecimalNumber": "decimal",
    "Percent": "decimal",
    "Currency": "currency",
    "Date": "date",
    "DateTime": "date",
    "YesNo": "boolean",
    "Dropdown": "choice",
    "Radio": "choice",
    "Email": "email",
    "PhoneNumber": "phone",
    "Website": "url",
}


def _tenant_from_token(token: Mapping[str, Any]) -> str:
    # Keap answers scope "full|<tenant host>".
    scope = token.get("scope") or ""
    scope = " ".join(scope) if isinstance(scope, list | tuple) else str(scope)
    return scope.partition("|")[2].strip()


# --- the catalogue ------------------------------------------------------------------


class _Rest:
    """GET on Keap REST v1 with the delivery client's own headers and error mapping."""

    def __init__(self, credentials: Credentials, http: CrmCalls):
        self.api = KeapRestApi(http, credentials)

    def get(self, path: str, **params: Any) -> Any:
        return self.api._call("GET", path, params=params or None)

    def pages(self, path: str, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(_MAX_PAGES):
            items = catalogue_items(self.get(path, limit=_PAGE, offset=page * _PAGE), key)
            found += items
            if len(items) < _PAGE:
                break
        return found


def _query(client: ContactServiceClient, table: str, fields: list[str]) -> list[dict[str, Any]]:
    """DataService.query over the delivery client's transport (same auth, same faults)."""
    # Reference: https://developer.infusionsoft.com/docs/xml-rpc/#data-query-a-data-table
    try:
        rows = client.call("DataService.query", table, _PAGE, 0, {"Id": "%"}, fields)
    except CrmError as exc:
        if exc.status is None and not exc.retryable and not exc.auth:
            raise CatalogueOptional from None  # a fault: this table is not offered
        raise
    if not isinstance(rows, list):
        raise CrmError("unreadable CRM response", retryable=True)
    return [r for r in rows if isinstance(r, dict) and "Id" in r]


def fetch_catalogue(credentials: Credentials, http: CrmCalls) -> dict[str, Any]:
    """Custom fields, tags, contact types, campaigns with sequences, follow-up sequences,
    action sets, lead sources and owners. Raises CrmError when the account cannot be
    reached; a list the server does not offer goes under "unavailable"."""
    rest = _Rest(credentials, http)
    # The connection test proper: the contact model (custom fields) must answer.
    # Reference: GET /v1/contacts/model (retrieveContactModelUsingGET)
    model = rest.get("/contacts/model")
    catalogue: dict[str, Any] = {
        "custom_fields": [
            {
                "id": f["id"],
                "name": str(f.get("label", "")),
                "field_name": str(f.get("field_name", "")),
                "type": str(f.get("field_type", "")),
                "options": [str(o.get("label", "")) for o in f.get("options") or []],
            }
            for f in catalogue_items(model, "custom_fields")
        ]
    }
    # Reference: GET /v1/tags (listTagsUsingGET)
    catalogue_collect(
        catalogue,
        "tags",
        lambda: [
            {
                "id": t["id"],
                "name": str(t.get("name", "")),
                "category": str((t.get("category") or {}).get("name", "")),
            }
            for t in rest.pages("/tags", "tags")
        ],
    )
    catalogue_collect(catalogue, "contact_types", lambda: _contact_types(rest))
    catalogue_collect(catalogue, "campaigns", lambda: _campaigns(rest))
    legacy = ContactServiceClient(http, credentials)
    catalogue_collect(
        catalogue,
        "lead_sources",
        lambda: [
            {"id": r["Id"], "name": str(r.get("Name", ""))}
            for r in _query(legacy, "LeadSource", ["Id", "Name"])
        ],
    )
    catalogue_collect(
        catalogue,
        "followup_sequences",
        lambda: [
            {"id": r["Id"], "name": str(r.get("Name", ""))}
            for r in _query(legacy, "Campaign", ["Id", "Name"])
        ],
    )
    catalogue_collect(
        catalogue,
        "action_sets",
        lambda: [
            {"id": r["Id"], "name": str(r.get("TemplateName", ""))}
            for r in _query(legacy, "ActionSequence", ["Id", "TemplateName"])
        ],
    )
    # Reference: GET /v1/users (listUsersUsingGET)
    catalogue_collect(
        catalogue,
        "owners",
        lambda: [
            {
                "id": u["id"],
                "name": " ".join(filter(None, (u.get("given_name"), u.get("family_name")))),
                "email": str(u.get("email_address", "")),
            }
            for u in rest.pages("/users", "users")
        ],
    )
    return catalogue


def _contact_types(rest: _Rest) -> list[str]:
    # Reference: GET /v1/setting/contact/optionTypes (getContactOptionTypesUsingGET)
    value = rest.get("/setting/contact/optionTypes")
    text = value.get("value", "") if isinstance(value, dict) else ""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _campaigns(rest: _Rest) -> list[dict[str, Any]]:
    # Reference: GET /v1/campaigns (listCampaignsUsingGET) and GET /v1/campaigns/{id}
    # ?optional_properties=sequences (getCampaignUsingGET): the list omits sequences.
    campaigns = []
    for c in rest.pages("/campaigns", "campaigns")[:_MAX_CAMPAIGNS]:
        try:
            detail = rest.get(f"/campaigns/{c['id']}", optional_properties="sequences")
        except CrmError as exc:
            if exc.status not in (403, 404):
                raise
            detail = {}
        sequences = detail.get("sequences") if isinstance(detail, dict) else None
        campaigns.append(
            {
                "id": c["id"],
                "name": str(c.get("name", "")),
                "sequences": [
                    {"id": s["id"], "name": str(s.get("name", ""))}
                    for s in sequences or []
                    if isinstance(s, dict) and "id" in s
                ],
            }
        )
    return campaigns


# --- a preview's answers -----------------------------------------------------------

_PREVIEW_ID = 0


def preview_answer(method: str, url: str, body: bytes) -> PreviewAnswer:
    """Keap's answers for a contact it does not have yet (ids are 0)."""
    path = urlsplit(url).path
    if path.endswith(XMLRPC_PATH):
        return _xmlrpc_answer(body)
    if method == "GET":
        # Searches find nothing: the contact, its notes and its company are new.
        return json_answer({"contacts": [], "notes": [], "companies": [], "count": 0})
    if "/sequences/" in path:
        return PreviewAnswer(204, "application/json", b"")
    if path.endswith("/tags"):
        return json_answer({})
    return json_answer({"id": _PREVIEW_ID})


def _xmlrpc_answer(body: bytes) -> PreviewAnswer:
    try:
        _, method = xmlrpc.client.loads(body)
    except (ExpatError, xmlrpc.client.Error, ValueError):
        method = ""
    name = str(method or "").rpartition(".")[2]
    value: Any = {
        "add": _PREVIEW_ID,
        "addWithDupCheck": _PREVIEW_ID,
        "update": _PREVIEW_ID,
        "findByEmail": [],
        "load": {},
        "runActionSequence": [],
        "query": [],
    }.get(name, True)
    text = xmlrpc.client.dumps((value,), methodresponse=True, encoding="utf-8")
    return PreviewAnswer(200, "text/xml", text.encode())


KEAP = CrmSpec(
    kind="keap",
    label="Keap (Infusionsoft)",
    short_label="Keap",
    auth_types=("oauth", "api_key"),
    api_base_url_setting="KEAP_API_BASE_URL",
    # Reference: https://developer.infusionsoft.com/getting-started-oauth-keys/ — the one
    # scope is "full"; the code exchange sends the client as form fields (no
    # Authorization header), the refresh authenticates with HTTP Basic; tokens rotate.
    oauth=OAuthSpec(
        settings_prefix="KEAP",
        scopes=("full",),
        refresh_with_basic_auth=True,
        tenant_from_token=_tenant_from_token,
    ),
    fetch_catalogue=fetch_catalogue,
    standard_fields=STANDARD_FIELDS,
    recipients=(
        RecipientSpec(
            kind="keap_rest",
            label="Keap REST v1",
            client=KeapRestRecipient,
            manual_fields=REST_MANUAL_FIELDS,
            lists=(
                ListSpec("tag", "Tags", "tags", actions=("apply",)),
                ListSpec(
                    "keap_sequence", "Campaign sequences", "campaigns", item="campaign_sequence"
                ),
            ),
        ),
        RecipientSpec(
            kind="keap_xmlrpc",
            label="Keap XML-RPC ContactService",
            client=KeapXmlRpcRecipient,
            manual_fields=XMLRPC_MANUAL_FIELDS,
            lists=(
                ListSpec("tag", "Tags", "tags", actions=("apply", "remove")),
                ListSpec(
                    "followup_sequence",
                    "Follow-up sequences",
                    "followup_sequences",
                    actions=("start", "pause", "resume", "remove"),
                ),
                ListSpec("action_set", "Action sets", "action_sets"),
            ),
            custom_field_key="field_name",
            custom_field_prefix="_",
        ),
    ),
    tenant_help="Keap: the app's host, filled in by Connect.",
    custom_field_kinds=CUSTOM_FIELD_KINDS,
    preview_answer=preview_answer,
    # Reference: https://developer.infusionsoft.com/docs/restv2/ (Rate limiting): a
    # Personal Access Token / Service Account Key 10 per second, 240 per minute, 30,000
    # per day; an OAuth app 25 per second, 1,500 per minute, 150,000 per day.
    rate_limits=RateLimits(
        defaults={"api_key": (10, 240, 30_000), "oauth": (25, 1_500, 150_000)},
        shared_by="credential",
    ),
)
