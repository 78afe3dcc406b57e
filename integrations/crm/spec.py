"""What the app needs to know of one CRM, as data: the types every CRM module fills in.

A CRM module (`keap_spec.py`, `highlevel_spec.py`) builds one `CrmSpec`; the registry
is the table of them. Everything CRM-specific outside the recipients' delivery code —
labels, account kinds, the OAuth app, the catalogue fetch, the fields a step can map,
the recipients and what their step settings mean — is read from here, so no other
module branches on which CRM it is talking to.

CRM-neutral: nothing here imports Django models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Credentials, CrmCalls, CrmError, RecipientClient

# The value kinds a field (standard, manual or custom) can take; the step editor checks
# a constant against its field's kind, and the mapper checks the mapped value again.
FIELD_KINDS = (
    "text",
    "email",
    "phone",
    "url",
    "date",
    "integer",
    "decimal",
    "currency",
    "boolean",
    "choice",
)


@dataclass(frozen=True)
class FieldSpec:
    """One field a step can send.

    name:      the mapping target: a ContactData attribute for standard fields, the
               CRM-native name (ContactData.extra) for manual ones.
    kind:      one of FIELD_KINDS.
    lead_field: the LeadConduit lead field mapped to it automatically ("" for manual).
    catalogue: the catalogue list whose entries fill its picker ("owners", ...).
    choices:   fixed choices (value, label) when the CRM documents them.
    """

    name: str
    label: str
    kind: str = "text"
    lead_field: str = ""
    catalogue: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""


@dataclass(frozen=True)
class ListSpec:
    """A kind of catalogue entry a step picks (a tag rule, or one kind of campaign rule).

    kind:      "tag", or the campaign rule kind ("keap_sequence", "followup_sequence",
               "action_set", "highlevel_workflow", "highlevel_campaign").
    catalogue: the catalogue list the entries come from.
    by:        what the CRM call takes: "id", or "name" (HighLevel tags are names).
    item:      "value", or "campaign_sequence": a sequence inside a catalogue
               campaign's "sequences" (the rule holds both ids).
    actions:   what the recipient can do with one ("apply"/"remove" for tags;
               "start"/"pause"/"resume"/"remove" for campaign rules).
    """

    kind: str
    label: str
    catalogue: str
    by: str = "id"
    item: str = "value"
    actions: tuple[str, ...] = ("start",)


@dataclass(frozen=True)
class RecipientSpec:
    """One API of a CRM that delivers contacts."""

    kind: str
    label: str
    client: type[RecipientClient]
    manual_fields: tuple[FieldSpec, ...] = ()
    lists: tuple[ListSpec, ...] = ()
    # How a catalogue custom field is addressed in a mapping target: "custom:" + prefix
    # + the entry's `custom_field_key` (XML-RPC: "custom:_LeadScore", else the id).
    custom_field_key: str = "id"
    custom_field_prefix: str = ""  # XML-RPC: "_" + the field's database name


@dataclass(frozen=True)
class OAuthSpec:
    """A CRM's OAuth2 app. Settings are read at call time (tests and the sandbox move them).

    settings_prefix: "KEAP" reads KEAP_AUTHORIZE_URL, KEAP_TOKEN_URL, KEAP_CLIENT_ID,
                     KEAP_CLIENT_SECRET.
    refresh_with_basic_auth: the refresh grant authenticates the client with HTTP Basic
                     (else with client_id / client_secret form fields).
    tenant_from_token: the account's tenant (Keap app host, HighLevel location) read
                     from a token response.
    """

    settings_prefix: str
    scopes: tuple[str, ...]
    refresh_with_basic_auth: bool
    extra_fields: Mapping[str, str] = field(default_factory=dict)
    tenant_from_token: Callable[[Mapping[str, Any]], str] = lambda token: ""


@dataclass(frozen=True)
class RateLimits:
    """A CRM's published quotas and what shares them.

    defaults:  account kind ("api_key", "oauth") -> (per second, per minute or None,
               per day).
    window:    seconds over which the per-second quota is counted (HighLevel: 10).
    shared_by: "credential" (one API key, or the app's OAuth client) or "tenant" (the
               account's tenant, e.g. a HighLevel location).
    """

    defaults: Mapping[str, tuple[int, int | None, int]]
    window: float = 1.0
    shared_by: str = "credential"


@dataclass(frozen=True)
class CrmSpec:
    kind: str
    label: str  # long: "Keap (Infusionsoft)"
    short_label: str  # in messages: "Keap"
    auth_types: tuple[str, ...]  # "oauth", "api_key"
    api_base_url_setting: str
    oauth: OAuthSpec | None
    fetch_catalogue: Callable[[Credentials, CrmCalls], dict[str, Any]]
    standard_fields: tuple[FieldSpec, ...]
    recipients: tuple[RecipientSpec, ...]
    tenant_help: str = ""
    # A catalogue entry's custom-field type (as the CRM names it) -> FIELD_KINDS.
    custom_field_kinds: Mapping[str, str] = field(default_factory=dict)
    # What the CRM would answer a call (method, URL, body) for a contact it does not
    # have yet: lets a preview run the recipient with no network call.
    preview_answer: Callable[[str, str, bytes], PreviewAnswer] = lambda m, u, b: PreviewAnswer()
    rate_limits: RateLimits = RateLimits(defaults={})


@dataclass(frozen=True)
class PreviewAnswer:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b"{}"


def json_answer(data: Any, status: int = 200) -> PreviewAnswer:
    return PreviewAnswer(status, "application/json", json.dumps(data).encode())


class CatalogueOptional(Exception):
    """A catalogue list this server does not offer (403/404, an XML-RPC fault)."""


OPTIONAL_STATUSES = frozenset({403, 404, 405, 501})


def catalogue_collect(catalogue: dict[str, Any], name: str, fetch: Callable[[], list[Any]]) -> None:
    """Store `fetch()` under `name`, or list `name` under "unavailable" when the server
    does not offer it. Other CrmErrors propagate: the connection test fails."""
    try:
        catalogue[name] = fetch()
    except CatalogueOptional:
        catalogue.setdefault("unavailable", []).append(name)
    except CrmError as exc:
        if exc.auth or exc.status not in OPTIONAL_STATUSES:
            raise
        catalogue.setdefault("unavailable", []).append(name)


def catalogue_items(data: Any, key: str) -> list[dict[str, Any]]:
    """The list under `key` of a vendor answer, entries without an id left out."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CrmError("unreadable CRM response", retryable=True)
    return [i for i in items if isinstance(i, dict) and i.get("id") not in (None, "")]
