"""The OAuth2 client for Keap and HighLevel: authorize URL, code exchange, refresh.

Built on requests-oauthlib's OAuth2Session. The same code runs against the real
services, the built-in sandbox or any other server: only the configured URLs and
client credentials differ (KEAP_* / HIGHLEVEL_* settings, read at call time).

Each CRM's app — scopes, extra form fields, how the refresh authenticates, where the
tenant is in the token answer — is described by its spec (integrations.crm.keap_spec,
integrations.crm.highlevel_spec) with the vendor reference.

Nothing here logs, raises or returns a token in a printable form: TokenSet's repr is
redacted and OAuthError reasons are fixed phrases plus an RFC 6749 error code.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from oauthlib.oauth2 import OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from integrations.crm.registry import CRMS

# (requests-oauthlib and oauthlib log secrets at DEBUG: settings.LOGGING pins them to INFO.)

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_ERROR_CODE = re.compile(r"^[A-Za-z_]{1,40}$")


class OAuthError(Exception):
    """The token endpoint could not give us tokens.

    rejected: the endpoint said no (4xx: spent or revoked refresh token, bad code, bad
              client). Repeating the same request will not help.
    otherwise the failure is transient (timeout, connection error, 5xx, 429).
    `reason` is a fixed phrase with the status and the RFC 6749 error code only.
    """

    def __init__(self, reason: str, *, rejected: bool, status: int | None = None, code: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.rejected = rejected
        self.status = status
        self.code = code


@dataclass(frozen=True, repr=False)
class TokenSet:
    """Tokens from one grant. `external_id`: Keap's tenant host or HighLevel's location."""

    access_token: str
    refresh_token: str
    expires_at: datetime | None
    external_id: str = ""
    scope: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print a token, not even in a traceback
        return f"TokenSet(expires_at={self.expires_at!r}, external_id={self.external_id!r})"


@dataclass(frozen=True)
class OAuthApp:
    """One CRM's OAuth endpoints, client and dialect."""

    crm: str
    label: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: tuple[str, ...]
    # Form fields every token request carries (HighLevel: user_type=Location).
    extra_fields: dict[str, str]
    # Keap refreshes with HTTP Basic; HighLevel sends the client as form fields.
    refresh_with_basic_auth: bool


def oauth_app(crm: str) -> OAuthApp:
    """The configured OAuth client for `crm` (its spec in integrations.crm.registry, its
    URLs and client from settings). Raises OAuthError when it is not configured."""
    spec = CRMS.get(crm)
    if spec is None or spec.oauth is None:
        raise OAuthError("this CRM has no OAuth connection", rejected=True)
    prefix = spec.oauth.settings_prefix
    app = OAuthApp(
        crm=crm,
        label=spec.short_label,
        authorize_url=getattr(settings, f"{prefix}_AUTHORIZE_URL"),
        token_url=getattr(settings, f"{prefix}_TOKEN_URL"),
        client_id=getattr(settings, f"{prefix}_CLIENT_ID"),
        client_secret=getattr(settings, f"{prefix}_CLIENT_SECRET"),
        scope=spec.oauth.scopes,
        extra_fields=dict(spec.oauth.extra_fields),
        refresh_with_basic_auth=spec.oauth.refresh_with_basic_auth,
    )
    if not (app.client_id and app.client_secret):
        raise OAuthError(f"{app.label} OAuth client id/secret are not configured", rejected=True)
    return app


def _require_secure(url: str) -> None:
    """Tokens travel over https only; plain http is allowed for loopback hosts (RFC 8252
    §7.3: nothing on the wire to intercept) and under DEBUG."""
    parts = urlsplit(url)
    if parts.scheme == "https" or settings.DEBUG:
        return
    if parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK:
        return
    raise OAuthError("OAuth endpoint must use https", rejected=True)


_INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"
_vetted_lock = threading.Lock()
_vetted_calls = 0
_we_set_it = False


@contextmanager
def _transport_vetted() -> Iterator[None]:
    """For the length of one of our OAuth calls, whose URL `_require_secure` has vetted
    (https, except loopback hosts and DEBUG), oauthlib defers to that check instead of
    refusing every plain-http URL. Counted, so that overlapping calls on other threads
    keep it on until the last one ends; never changed when set outside the app."""
    global _vetted_calls, _we_set_it
    with _vetted_lock:
        if _vetted_calls == 0:
            _we_set_it = _INSECURE not in os.environ
            if _we_set_it:
                os.environ[_INSECURE] = "1"
        _vetted_calls += 1
    try:
        yield
    finally:
        with _vetted_lock:
            _vetted_calls -= 1
            if _vetted_calls == 0 and _we_set_it:
                os.environ.pop(_INSECURE, None)


def _timeout() -> tuple[float, float]:
    return (settings.CRM_CONNECT_TIMEOUT, settings.CRM_READ_TIMEOUT)


def oauth_authorize_url(*, crm: str, redirect_uri: str, state: str) -> str:
    """Where to send the browser to ask the user for consent."""
    app = oauth_app(crm)
    _require_secure(app.authorize_url)
    with (
        _transport_vetted(),
        OAuth2Session(app.client_id, redirect_uri=redirect_uri, scope=list(app.scope)) as oauth,
    ):
        url, _ = oauth.authorization_url(app.authorize_url, state=state)
    return url


def oauth_code_exchange(*, crm: str, code: str, redirect_uri: str) -> TokenSet:
    """Trade an authorization code for tokens. Raises OAuthError."""
    app = oauth_app(crm)
    _require_secure(app.token_url)
    # No scope on this session: Keap answers "full|<tenant>", which oauthlib would
    # otherwise reject as a changed scope.
    with _transport_vetted(), OAuth2Session(app.client_id, redirect_uri=redirect_uri) as oauth:
        oauth.register_compliance_hook("access_token_response", _raise_for_status)
        # include_client_id=True puts client_id/client_secret in the form body and keeps
        # requests-oauthlib from adding an Authorization header (Keap rejects one, §1.1).
        token = _token_call(
            lambda: oauth.fetch_token(
                app.token_url,
                code=code,
                include_client_id=True,
                client_secret=app.client_secret,
                timeout=_timeout(),
                **app.extra_fields,
            )
        )
    return _token_set(app, token, previous_refresh_token="")


def oauth_token_refresh(*, crm: str, refresh_token: str) -> TokenSet:
    """Spend `refresh_token` for a new token pair. Raises OAuthError.

    The refresh token is single-use at both CRMs: once this returns (or fails after the
    request left), the old one is gone, so the caller must store the answer atomically.
    """
    app = oauth_app(crm)
    _require_secure(app.token_url)
    with _transport_vetted(), OAuth2Session(app.client_id) as oauth:
        oauth.register_compliance_hook("refresh_token_response", _raise_for_status)
        if app.refresh_with_basic_auth:
            auth, fields = HTTPBasicAuth(app.client_id, app.client_secret), dict(app.extra_fields)
        else:
            auth = None
            fields = {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                **app.extra_fields,
            }
        token = _token_call(
            lambda: oauth.refresh_token(
                app.token_url,
                refresh_token=refresh_token,
                auth=auth,
                timeout=_timeout(),
                **fields,
            )
        )
    return _token_set(app, token, previous_refresh_token=refresh_token)


def _token_call(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one token request, mapping every failure to an OAuthError."""
    try:
        return call()
    except OAuthError:
        raise
    except requests.Timeout:
        raise OAuthError("token endpoint timed out", rejected=False) from None
    except requests.ConnectionError:
        raise OAuthError("could not connect to the token endpoint", rejected=False) from None
    except requests.RequestException:
        raise OAuthError("token request failed", rejected=False) from None
    except (OAuth2Error, ValueError, KeyError, Warning):
        # A 2xx whose body is not a usable token response.
        raise OAuthError("token endpoint answered without a usable token", rejected=False) from None


def _raise_for_status(response: requests.Response) -> requests.Response:
    """Compliance hook: turn a non-2xx token answer into an OAuthError while the status
    is still known (oauthlib only looks at the body)."""
    status = response.status_code
    if status < 300:
        return response
    code = ""
    try:
        body = response.json()
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
    except ValueError:
        pass
    code = code if _ERROR_CODE.match(code) else ""
    if status == 429 or status >= 500:
        raise OAuthError(f"token endpoint unavailable ({status})", rejected=False, status=status)
    detail = f"{status} {code}".strip()
    raise OAuthError(f"token endpoint refused ({detail})", rejected=True, status=status, code=code)


def _token_set(app: OAuthApp, token: dict[str, Any], *, previous_refresh_token: str) -> TokenSet:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("token endpoint answered without a usable token", rejected=False)
    # A server that does not rotate leaves the refresh token out: keep the one we had.
    refresh = token.get("refresh_token") or previous_refresh_token
    expires_at = None
    try:
        expires_in = int(token["expires_in"])
        expires_at = timezone.now() + timedelta(seconds=max(0, expires_in))
    except (KeyError, TypeError, ValueError):
        pass
    scope = token.get("scope") or ""
    scope = " ".join(scope) if isinstance(scope, list | tuple) else str(scope)
    oauth = CRMS[app.crm].oauth
    external_id = oauth.tenant_from_token(token) if oauth else ""
    return TokenSet(
        access_token=access,
        refresh_token=str(refresh or ""),
        expires_at=expires_at,
        external_id=external_id[:120],
        scope=scope[:500],
    )
