"""Test connection: call the CRM with the account's credentials, say precisely what
went wrong if anything did, and refresh Account.catalogue — the custom fields, tags,
sequences, workflows, users... the mapping screens offer as pickers instead of bare ids.

The first call of each CRM is the connection test proper; the other lists are
optional: an endpoint the server does not offer (403/404, or an XML-RPC fault) is
listed under "unavailable" instead of failing the test.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.parsers.expat import ExpatError

from django.conf import settings
from django.utils import timezone

from integrations.crm.base import CrmError
from integrations.crm.highlevel import API_VERSION as HIGHLEVEL_VERSION
from integrations.crm.highlevel import raise_for_status as highlevel_raise_for_status
from integrations.crm.http import CrmSession, json_or_empty
from integrations.crm.keap_rest import raise_for_status as keap_raise_for_status
from integrations.crm.keap_xmlrpc import LEGACY_KEY, XMLRPC_PATH
from integrations.models import Account, AccountStatus, CrmKind

from .oauth import CRM_LABELS
from .tokens import TokenRefreshFailed, TokenRefreshRejected, account_call_with_refresh

_PAGE = 1000
_MAX_PAGES = 10
_MAX_CAMPAIGNS = 50


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str  # what was found, or the precise failure: no secrets, no lead data


class _Optional(Exception):
    """An optional list this server does not offer."""


def account_connection_test(*, account_id: int) -> ConnectionCheck:
    """Call the CRM; on success store the fresh catalogue. Never raises for CRM errors:
    the answer says what happened, and a failure is also kept in `last_error`."""
    account = Account.objects.get(pk=account_id)
    label = CRM_LABELS.get(account.crm, account.crm)
    if account.status == AccountStatus.NEEDS_RECONNECT:
        return ConnectionCheck(False, f"{label}: the account needs to be reconnected first.")
    if not account.is_usable:
        return ConnectionCheck(False, f"{label}: the account is not connected yet.")
    fetch = _keap_catalogue if account.crm == CrmKind.KEAP else _highlevel_catalogue
    try:
        catalogue = account_call_with_refresh(account=account, call=fetch)
    except TokenRefreshRejected:
        return ConnectionCheck(False, f"{label} refused the refresh token: reconnect the account.")
    except TokenRefreshFailed:
        message = f"{label}: the token endpoint is unavailable; try again later."
        return _failed(account_id, message)
    except CrmError as exc:
        shown = exc.status and str(exc.status) not in exc.reason
        status = f" (HTTP {exc.status})" if shown else ""
        return _failed(account_id, f"{label}: {exc.reason}{status}.")
    catalogue["crm"] = account.crm
    Account.objects.filter(pk=account_id).update(
        catalogue=catalogue, catalogue_refreshed_at=timezone.now(), last_error=""
    )
    missing = ", ".join(name.replace("_", " ") for name in catalogue.get("unavailable", []))
    not_offered = f" Not offered by this server: {missing}." if missing else ""
    return ConnectionCheck(
        True, f"Connected to {label}. Found {catalogue_summary(catalogue)}.{not_offered}"
    )


def catalogue_summary(catalogue: dict[str, Any]) -> str:
    """What `catalogue` holds, e.g. "4 custom fields, 6 tags, 2 campaigns"."""
    parts = [
        f"{len(value)} {key.replace('_', ' ')}"
        for key, value in catalogue.items()
        if isinstance(value, list) and key != "unavailable"
    ]
    return ", ".join(parts) or "nothing"


def _failed(account_id: int, message: str) -> ConnectionCheck:
    Account.objects.filter(pk=account_id).update(last_error=message[:200])
    return ConnectionCheck(False, message)


def _session(account: Account) -> CrmSession:
    return CrmSession(secrets=(account.api_key, account.access_token, account.refresh_token))


def _collect(catalogue: dict[str, Any], name: str, fetch: Callable[[], list]) -> None:
    try:
        catalogue[name] = fetch()
    except _Optional:
        catalogue.setdefault("unavailable", []).append(name)


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CrmError("unreadable CRM response", retryable=True)
    return [i for i in items if isinstance(i, dict) and i.get("id") not in (None, "")]


# --- Keap ---------------------------------------------------------------------------


class _Keap:
    def __init__(self, account: Account):
        self.http = _session(account)
        self.base = settings.KEAP_API_BASE_URL.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if account.api_key:
            self.headers["X-Keap-API-Key"] = account.api_key  # §1.2
        else:
            self.headers["Authorization"] = f"Bearer {account.access_token}"

    def get(self, path: str, *, optional: bool = False, **params: Any) -> Any:
        response = self.http.request(
            "GET", f"{self.base}/rest/v1{path}", headers=self.headers, params=params or None
        )
        if optional and response.status_code in (403, 404, 405, 501):
            raise _Optional
        keap_raise_for_status(response)
        return json_or_empty(response)

    def pages(self, path: str, key: str, *, optional: bool = False) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(_MAX_PAGES):
            items = _items(self.get(path, optional=optional, limit=_PAGE, offset=page * _PAGE), key)
            found += items
            if len(items) < _PAGE:
                break
        return found

    def lead_sources(self) -> list[dict[str, Any]]:
        # REST v1 has no lead-source endpoint (§2.2); XML-RPC DataService has the table.
        body = xmlrpc.client.dumps(
            (LEGACY_KEY, "LeadSource", _PAGE, 0, {"Id": "%"}, ["Id", "Name"]),
            methodname="DataService.query",
            encoding="utf-8",
        )
        headers = {**self.headers, "Content-Type": "text/xml", "Accept": "text/xml"}
        response = self.http.request(
            "POST", self.base + XMLRPC_PATH, data=body.encode(), headers=headers
        )
        if response.status_code in (403, 404, 405, 501):
            raise _Optional
        keap_raise_for_status(response)
        try:
            params, _ = xmlrpc.client.loads(response.content, use_builtin_types=True)
            rows: Any = params[0]
        except xmlrpc.client.Fault:
            raise _Optional from None
        except (ExpatError, xmlrpc.client.Error, ValueError, TypeError):
            raise CrmError("unreadable CRM response", retryable=True) from None
        return [
            {"id": r["Id"], "name": str(r.get("Name", ""))}
            for r in rows or []
            if isinstance(r, dict) and "Id" in r
        ]


def _keap_catalogue(account: Account) -> dict[str, Any]:
    keap = _Keap(account)
    # The connection test proper: the contact model (custom fields) must answer.
    model = keap.get("/contacts/model")
    catalogue: dict[str, Any] = {
        "custom_fields": [
            {"id": f["id"], "name": str(f.get("label", "")), "type": str(f.get("field_type", ""))}
            for f in _items(model, "custom_fields")
        ]
    }
    _collect(
        catalogue,
        "tags",
        lambda: [
            {
                "id": t["id"],
                "name": str(t.get("name", "")),
                "category": str((t.get("category") or {}).get("name", "")),
            }
            for t in keap.pages("/tags", "tags", optional=True)
        ],
    )
    _collect(catalogue, "contact_types", lambda: _keap_contact_types(keap))
    _collect(catalogue, "campaigns", lambda: _keap_campaigns(keap))
    _collect(catalogue, "lead_sources", keap.lead_sources)
    _collect(
        catalogue,
        "owners",
        lambda: [
            {
                "id": u["id"],
                "name": " ".join(filter(None, (u.get("given_name"), u.get("family_name")))),
                "email": str(u.get("email_address", "")),
            }
            for u in keap.pages("/users", "users", optional=True)
        ],
    )
    return catalogue


def _keap_contact_types(keap: _Keap) -> list[str]:
    value = keap.get("/setting/contact/optionTypes", optional=True)
    text = value.get("value", "") if isinstance(value, dict) else ""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _keap_campaigns(keap: _Keap) -> list[dict[str, Any]]:
    campaigns = []
    for c in keap.pages("/campaigns", "campaigns", optional=True)[:_MAX_CAMPAIGNS]:
        # The list omits sequences; one campaign with optional_properties has them.
        detail = keap.get(f"/campaigns/{c['id']}", optional=True, optional_properties="sequences")
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


# --- HighLevel ----------------------------------------------------------------------


def _highlevel_catalogue(account: Account) -> dict[str, Any]:
    location = account.external_id
    if not location:
        raise CrmError("no location id on the account", retryable=False)
    http = _session(account)
    base = settings.HIGHLEVEL_API_BASE_URL.rstrip("/")
    headers = {
        "Authorization": f"Bearer {account.api_key or account.access_token}",
        "Version": HIGHLEVEL_VERSION,
        "Accept": "application/json",
    }

    def get(path: str, key: str, *, optional: bool, **params: Any) -> list[dict[str, Any]]:
        response = http.request("GET", base + path, headers=headers, params=params or None)
        if optional and response.status_code in (404, 405, 501):
            raise _Optional
        highlevel_raise_for_status(response, what=key)
        return _items(json_or_empty(response), key)

    # Reference: GET /locations/{locationId}/customFields — the connection test proper.
    catalogue: dict[str, Any] = {
        "custom_fields": [
            {
                "id": f["id"],
                "name": str(f.get("name", "")),
                "key": str(f.get("fieldKey", "")),
                "type": str(f.get("dataType", "")),
            }
            for f in get(f"/locations/{location}/customFields", "customFields", optional=False)
        ]
    }

    def listing(path: str, key: str, *fields: str) -> Callable[[], list]:
        def fetch() -> list[dict[str, Any]]:
            rows = get(path, key, optional=True, locationId=location)
            return [{"id": r["id"], **{f: str(r.get(f, "")) for f in fields}} for r in rows]

        return fetch

    # Reference: GET /workflows/, /campaigns/, /users/ ?locationId= ; /locations/{id}/tags
    _collect(catalogue, "workflows", listing("/workflows/", "workflows", "name", "status"))
    _collect(catalogue, "campaigns", listing("/campaigns/", "campaigns", "name", "status"))
    _collect(catalogue, "users", listing("/users/", "users", "name", "email"))
    _collect(catalogue, "tags", listing(f"/locations/{location}/tags", "tags", "name"))
    return catalogue
