"""The sandbox's HighLevel OAuth 2.0: the consent page and the token endpoint.

Reference: shared/specs/highlevel-oauth.openapi.json (POST /oauth/token) and wire spec
§6.2. Only Location ("Sub-Account") tokens are issued. Refresh tokens rotate and are
single-use; HighLevel does not document the body for a spent one (§6.2 [?]), so the
sandbox answers RFC 6749's `invalid_grant` in the NestJS shape of §6.5.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import faults, seed
from .gateway import error, fault_response
from .models import AuthorizationCode, Location, OAuthToken

CODE_LIFETIME = timedelta(minutes=10)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPE = "contacts.readonly contacts.write"


def _consent_params(source: Any) -> dict[str, str]:
    keys = ("client_id", "redirect_uri", "response_type", "scope", "state")
    return {key: str(source.get(key, "")) for key in keys}


def _consent_problem(params: dict[str, str]) -> str:
    if params["client_id"] != settings.SANDBOX_HIGHLEVEL_CLIENT_ID:
        return "Unknown client_id: this sandbox knows one app."
    parts = urlsplit(params["redirect_uri"])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "redirect_uri must be an absolute http(s) URL."
    if params["response_type"] != "code":
        return "response_type must be code."
    return ""


def _redirect(redirect_uri: str, **query: str) -> HttpResponseRedirect:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return HttpResponseRedirect(redirect_uri + separator + urlencode(query))


# Reference: GET marketplace.gohighlevel.com/v2/oauth/chooselocation (§6.2 Authorize)
@csrf_exempt  # a sandbox page that tests drive without a browser; nothing to steal here
@require_http_methods(["GET", "POST"])
def choose_location(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    params = _consent_params(source)
    problem = _consent_problem(params)
    if problem:
        # Never redirect to an unverified redirect_uri: show the problem instead.
        return render(
            request, "sandbox_highlevel/oauth_error.html", {"problem": problem}, status=400
        )
    location = seed.ensure_seeded()
    if request.method == "GET":
        context = {
            "params": params,
            "locations": Location.objects.all(),
            "scopes": (params["scope"] or DEFAULT_SCOPE).split(),
            "selected": location.pk,
        }
        return render(request, "sandbox_highlevel/chooselocation.html", context)
    extra = {"state": params["state"]} if params["state"] else {}
    if source.get("decision") != "allow":
        return _redirect(params["redirect_uri"], error="access_denied", **extra)
    chosen = Location.objects.filter(pk=source.get("location_id") or location.pk).first()
    if chosen is None:
        return render(
            request,
            "sandbox_highlevel/oauth_error.html",
            {"problem": "Unknown location."},
            status=400,
        )
    code = AuthorizationCode.objects.create(
        code=secrets.token_urlsafe(24),
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        location=chosen,
        scope=params["scope"] or DEFAULT_SCOPE,
    )
    faults.bump("codes_issued")
    return _redirect(params["redirect_uri"], code=code.code, **extra)


def _token_body(request: HttpRequest) -> dict[str, str]:
    # §6.2: the spec says form-encoded, the docs' sample sends JSON: accept both.
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v for k, v in request.POST.items()}


def _oauth_error(status: int, message: str, code: str) -> JsonResponse:
    return error(status, message, error=code)


def _issue(*, client_id: str, location: Location, scope: str) -> JsonResponse:
    ttl = int(faults.config()["access_token_ttl"])
    token = OAuthToken.objects.create(
        access_token=f"sbx-at-{secrets.token_urlsafe(32)}",
        refresh_token=f"sbx-rt-{secrets.token_urlsafe(32)}",
        refresh_token_id=secrets.token_hex(12),
        client_id=client_id,
        location=location,
        user_id=seed.USER_OWNER_ID,
        scope=scope,
        access_expires_at=timezone.now() + timedelta(seconds=ttl),
    )
    faults.bump("tokens_issued")
    return JsonResponse(
        {
            "access_token": token.access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": token.refresh_token,
            "scope": token.scope,
            "refreshTokenId": token.refresh_token_id,
            "userType": "Location",
            "companyId": location.company_id,
            "locationId": location.pk,
            "userId": token.user_id,
            "isBulkInstallation": False,
            "traceId": secrets.token_hex(12),
        }
    )


# Reference: POST services.leadconnectorhq.com/oauth/token (get-access-token)
@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    seed.ensure_seeded()
    fault = faults.take(target="token", path="oauth/token", method="POST")
    if fault and fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)
    if fault and fault.status:
        return fault_response(fault.status)
    data = _token_body(request)
    problems = [
        f"{key} should not be empty"
        for key in ("client_id", "client_secret", "grant_type")
        if not data.get(key)
    ]
    if data.get("grant_type") and data["grant_type"] not in GRANT_TYPES:
        problems.append(f"grant_type must be one of the following values: {', '.join(GRANT_TYPES)}")
    if problems:
        return error(422, problems, error="Unprocessable Entity")
    if (data["client_id"], data["client_secret"]) != (
        settings.SANDBOX_HIGHLEVEL_CLIENT_ID,
        settings.SANDBOX_HIGHLEVEL_CLIENT_SECRET,
    ):
        return _oauth_error(401, "Client authentication failed", "invalid_client")
    if data["grant_type"] == "authorization_code":
        return _exchange_code(data)
    if data["grant_type"] == "refresh_token":
        return _refresh(data)
    return _oauth_error(400, "This app cannot use client_credentials", "unauthorized_client")


def _exchange_code(data: dict[str, str]) -> JsonResponse:
    code = (
        AuthorizationCode.objects.select_related("location")
        .filter(code=data.get("code", ""))
        .first()
    )
    if (
        code is None
        or code.client_id != data["client_id"]
        or code.created_at < timezone.now() - CODE_LIFETIME
        or (data.get("redirect_uri") and data["redirect_uri"] != code.redirect_uri)
    ):
        return _oauth_error(400, "Invalid authorization code", "invalid_grant")
    with transaction.atomic():
        # Conditional update: of two concurrent exchanges exactly one wins.
        spent = AuthorizationCode.objects.filter(pk=code.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if not spent:
            return _oauth_error(400, "Invalid authorization code", "invalid_grant")
        return _issue(client_id=code.client_id, location=code.location, scope=code.scope)


def _refresh(data: dict[str, str]) -> JsonResponse:
    old = (
        OAuthToken.objects.select_related("location")
        .filter(refresh_token=data.get("refresh_token", ""), client_id=data["client_id"])
        .first()
    )
    with transaction.atomic():
        spent = old and OAuthToken.objects.filter(pk=old.pk, refreshed_at__isnull=True).update(
            refreshed_at=timezone.now()
        )
        if not spent:
            faults.bump("refreshes_rejected")
            return _oauth_error(
                400, "Invalid refresh token: it was already used or revoked", "invalid_grant"
            )
        faults.bump("refreshes")
        return _issue(client_id=old.client_id, location=old.location, scope=old.scope)
