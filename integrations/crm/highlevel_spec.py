"""HighLevel (LeadConnector): everything the app needs to know of it, as one CrmSpec.

The recipient (`highlevel.py`) delivers contacts; this module says how to connect
(OAuth app or private integration token), what the location holds (the catalogue
fetch), which fields a step can map and what its tag / workflow / campaign settings
mean (tags are names on HighLevel; workflows and campaigns are ids).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .base import Credentials, CrmCalls, CrmError
from .highlevel import HighLevelApi, HighLevelRecipient
from .spec import (
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

# What a HighLevel v2 contact can hold of the 17 automatically mapped fields: one phone,
# one address line (line 2 is appended to it), no middle name, suffix, title or notes.
STANDARD_FIELDS = (
    FieldSpec("first_name", "First Name", lead_field="first_name"),
    FieldSpec("last_name", "Last Name", lead_field="last_name"),
    FieldSpec("email", "Email", "email", lead_field="email"),
    FieldSpec("phones", "Phone", "phone", lead_field="phone_1"),
    FieldSpec("address_line1", "Address", lead_field="address_1"),
    FieldSpec("address_line2", "Address (line 2, appended)", lead_field="address_2"),
    FieldSpec("city", "City", lead_field="city"),
    FieldSpec("region_name", "State", lead_field="state"),
    FieldSpec("postal_code", "Postal Code", lead_field="postal_code"),
    FieldSpec("website", "Website", "url", lead_field="website"),
    FieldSpec("birthday", "Date of Birth", "date", lead_field="dob"),
)

# Reference: https://highlevel.stoplight.io/docs/integrations/ (create-contact:
# CreateContactDto `source`, `assignedTo`, `timezone`, `dnd`).
MANUAL_FIELDS = (
    FieldSpec("source", "Source", help="Lead source shown on the contact"),
    FieldSpec("assignedTo", "Assigned User", "choice", catalogue="users"),
    FieldSpec("timezone", "Time Zone", help="IANA name, e.g. America/Chicago"),
    FieldSpec("dnd", "Do Not Disturb", "boolean"),
)

# HighLevel's custom field `dataType`s as value kinds.
CUSTOM_FIELD_KINDS = {
    "NUMERICAL": "decimal",
    "FLOAT": "decimal",
    "MONETORY": "currency",
    "DATE": "date",
    "CHECKBOX": "choice",
    "SINGLE_OPTIONS": "choice",
    "RADIO": "choice",
    "PHONE": "phone",
    "EMAIL": "email",
}

# The scopes the app asks for: contacts, plus what the catalogue lists.
SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "locations.readonly",
    "locations/customFields.readonly",
    "locations/tags.readonly",
    "workflows.readonly",
    "campaigns.readonly",
    "users.readonly",
)


def _tenant_from_token(token: Mapping[str, Any]) -> str:
    return str(token.get("locationId") or "")


def fetch_catalogue(credentials: Credentials, http: CrmCalls) -> dict[str, Any]:
    """Custom fields, workflows, campaigns, users and tags of the account's location.
    Raises CrmError when the location cannot be reached; a list the server does not
    offer goes under "unavailable"."""
    if not credentials.location_id:
        raise CrmError("no location id on the account", retryable=False)
    api = HighLevelApi(http, credentials)
    location = api.location_id

    def get(path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return catalogue_items(api._call("GET", path, what=key, params=params or None), key)

    # Reference: GET /locations/{locationId}/customFields (get-custom-fields) — the
    # connection test proper.
    catalogue: dict[str, Any] = {
        "custom_fields": [
            {
                "id": f["id"],
                "name": str(f.get("name", "")),
                "key": str(f.get("fieldKey", "")),
                "type": str(f.get("dataType", "")),
                "options": [str(o) for o in f.get("picklistOptions") or []],
            }
            for f in get(f"/locations/{location}/customFields", "customFields")
        ]
    }

    def listing(path: str, key: str, *fields: str) -> Callable[[], list[Any]]:
        def fetch() -> list[dict[str, Any]]:
            rows = get(path, key, locationId=location)
            return [{"id": r["id"], **{f: str(r.get(f, "")) for f in fields}} for r in rows]

        return fetch

    # Reference: GET /workflows/ (get-workflow), /campaigns/ (get-campaigns), /users/
    # (search-users) ?locationId= ; GET /locations/{locationId}/tags (get-location-tags)
    catalogue_collect(catalogue, "workflows", listing("/workflows/", "workflows", "name", "status"))
    catalogue_collect(catalogue, "campaigns", listing("/campaigns/", "campaigns", "name", "status"))
    catalogue_collect(catalogue, "users", listing("/users/", "users", "name", "email"))
    catalogue_collect(catalogue, "tags", listing(f"/locations/{location}/tags", "tags", "name"))
    return catalogue


def preview_answer(method: str, url: str, body: bytes) -> PreviewAnswer:
    """HighLevel's answers for a contact it does not have yet."""
    path = urlsplit(url).path
    contact = {"id": "preview"}
    if method == "GET":
        return json_answer({"contact": None, "contacts": []})
    if path.endswith("/contacts/upsert"):
        return json_answer({"new": True, "contact": contact})
    if path.endswith("/tags"):
        return json_answer({"tags": []}, 201)
    if "/workflow/" in path or "/campaigns/" in path:
        return json_answer({"succeded": True})
    return json_answer({"contact": contact}, 201)


HIGHLEVEL = CrmSpec(
    kind="highlevel",
    label="HighLevel (LeadConnector)",
    short_label="HighLevel",
    auth_types=("oauth", "api_key"),
    api_base_url_setting="HIGHLEVEL_API_BASE_URL",
    # Reference: https://highlevel.stoplight.io/docs/integrations/ (get-access-token):
    # client credentials as form fields on every grant, user_type=Location for a
    # sub-account token; refresh tokens rotate.
    oauth=OAuthSpec(
        settings_prefix="HIGHLEVEL",
        scopes=SCOPES,
        refresh_with_basic_auth=False,
        extra_fields={"user_type": "Location"},
        tenant_from_token=_tenant_from_token,
    ),
    fetch_catalogue=fetch_catalogue,
    standard_fields=STANDARD_FIELDS,
    recipients=(
        RecipientSpec(
            kind="highlevel",
            label="HighLevel contacts",
            client=HighLevelRecipient,
            manual_fields=MANUAL_FIELDS,
            lists=(
                ListSpec("tag", "Tags", "tags", by="name", actions=("apply",)),
                ListSpec("highlevel_workflow", "Workflows", "workflows"),
                ListSpec("highlevel_campaign", "Campaigns", "campaigns"),
            ),
        ),
    ),
    tenant_help="HighLevel: the sub-account (location) id — needed with a private "
    "integration token.",
    custom_field_kinds=CUSTOM_FIELD_KINDS,
    preview_answer=preview_answer,
    # Reference: https://highlevel.stoplight.io/docs/integrations/ (Rate limits): 100
    # requests per 10 seconds and 200,000 per day, per location.
    rate_limits=RateLimits(
        defaults={"api_key": (10, None, 200_000), "oauth": (10, None, 200_000)},
        window=10.0,
        shared_by="tenant",
    ),
)
