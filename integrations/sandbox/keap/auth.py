"""Who is calling: the sandbox's API key (a PAT/SAK stand-in) or an OAuth access token.

Reference: crm-wire-spec.md §1.1-1.2, §5.1. Both `X-Keap-API-Key: <key>` and
`Authorization: Bearer <key or token>` are accepted (toddstoker's SDK sends keys as
Bearer), and the legacy `?access_token=` query parameter too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import faults
from .models import AccessToken


@dataclass(frozen=True)
class Credential:
    kind: str  # "api_key" | "oauth"
    identifier: str  # what rate limits are counted against


def authenticate(request: HttpRequest) -> Credential | HttpResponse:
    """The caller's credential, or the gateway's 401 (§2.5, §7.1.11)."""
    key = request.headers.get("X-Keap-API-Key")
    if key is not None:
        return _api_key(key) or faults.unauthorized()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        presented = value.strip()
    else:
        presented = request.GET.get("access_token", "")
    if not presented:
        return faults.unauthorized()
    credential = _api_key(presented)
    if credential:
        return credential
    token = AccessToken.objects.filter(token=presented).first()
    if token is None:
        return faults.unauthorized()
    if token.expires_at <= timezone.now():
        return faults.unauthorized(expired=True)
    # OAuth quotas are per client, across all of its tokens and tenants (§4, K8).
    return Credential("oauth", token.client_id)


def _api_key(value: str) -> Credential | None:
    if value and secrets.compare_digest(value, settings.SANDBOX_KEAP_API_KEY):
        digest = hashlib.sha256(value.encode()).hexdigest()[:12]
        return Credential("api_key", f"key-{digest}")
    return None
