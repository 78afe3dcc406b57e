"""Test connection: call the CRM with the account's credentials, say precisely what
went wrong if anything did, and refresh Account.catalogue — the custom fields, tags,
sequences, workflows, users... the mapping screens offer as pickers instead of bare ids.

What to fetch, and how, is the CRM's own (`CrmSpec.fetch_catalogue`, in its spec module):
the first call is the connection test proper; a list the server does not offer is put
under "unavailable" instead of failing the test. The credential is the one delivery
uses (`account_credentials`, picked by the account's auth type), and so is the rate
limit: every call of the fetch takes a slot of the account's quotas, as a delivery's
calls do (`QuotaGate`), so a Test connection neither meets the CRM's spike arrest nor
steals the slots live deliveries are counting on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from integrations.crm.base import CrmError, Throttled
from integrations.crm.http import CrmSession
from integrations.crm.registry import crm_label, crm_spec
from integrations.delivery.ratelimit import QuotaGate, account_limit_key, account_quotas
from integrations.models import Account, AccountStatus

from .credentials import account_credentials
from .tokens import TokenRefreshFailed, TokenRefreshRejected, account_call_with_refresh

# A person is waiting on the answer, not a worker holding a delivery: a call of the
# fetch may wait this long for its slot (a delivery's, RATELIMIT_MAX_WAIT_SECONDS).
CATALOGUE_MAX_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str  # what was found, or the precise failure: no secrets, no lead data


def account_connection_test(*, account_id: int) -> ConnectionCheck:
    """Call the CRM; on success store the fresh catalogue. Never raises for CRM errors:
    the answer says what happened, and a failure is also kept in `last_error`."""
    account = Account.objects.get(pk=account_id)
    label = crm_label(account.crm)
    if account.status == AccountStatus.NEEDS_RECONNECT:
        return ConnectionCheck(False, f"{label}: the account needs to be reconnected first.")
    if not account.is_usable:
        return ConnectionCheck(False, f"{label}: the account is not connected yet.")
    fetch = crm_spec(account.crm).fetch_catalogue
    # The account's own limiter, as a delivery's (integrations.delivery.ratelimit.
    # account_gate), with a person's patience.
    gate = QuotaGate(
        key=account_limit_key(account),
        quotas=account_quotas(account),
        max_wait=CATALOGUE_MAX_WAIT_SECONDS,
    )

    def call(current: Account) -> dict[str, Any]:
        credentials = account_credentials(account=current)
        http = CrmSession(secrets=(credentials.api_key, credentials.access_token), gate=gate)
        return fetch(credentials, http)

    try:
        catalogue = account_call_with_refresh(account=account, call=call)
    except TokenRefreshRejected:
        return ConnectionCheck(False, f"{label} refused the refresh token: reconnect the account.")
    except TokenRefreshFailed:
        message = f"{label}: the token endpoint is unavailable; try again later."
        return _failed(account_id, message)
    except Throttled as wait:
        seconds = max(1, round((wait.retry_at - timezone.now()).total_seconds()))
        return ConnectionCheck(False, f"{label}: {wait.reason}; try again in about {seconds} s.")
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
