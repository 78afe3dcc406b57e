"""Keap OAuth2: the consent page and the token endpoint.

Reference: crm-wire-spec.md §1.1. Codes are single-use, short-lived and bound to the
client and redirect_uri; refresh tokens rotate and are single-use.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import control, seed
from .gateway import counted, play_fault
from .models import AccessToken, AuthorizationCode, RefreshToken

CODE_TTL = timedelta(minutes=10)
REFRESH_TTL = timedelta(days=45)  # §1.1, K9
# §1.1 token-endpoint errors: K10's shape for refresh tokens (used or unknown), K11 #260
# for bad client credentials.
_BAD_REFRESH = {"error": "invalid_request", "error_description": "Invalid Refresh Token"}
_BAD_CLIENT = {
    "error": "invalid_grant",
    "error_description": "Unable to authenticate username and password",
}
_BAD_CODE = {"error": "invalid_grant", "error_description": "Invalid authorization code"}


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _params_error(params: dict[str, str]) -> str:
    if params["client_id"] != settings.SANDBOX_KEAP_CLIENT_ID:
        return "Unknown client_id."
    if params["response_type"] != "code":
        return "response_type must be code."
    if params["scope"] != "full":
        return "scope must be full."
    if urlsplit(params["redirect_uri"]).scheme not in ("http", "https"):
        return "redirect_uri must be an absolute http(s) URL."
    return ""


@csrf_exempt  # an emulator's consent form: nothing here is worth a CSRF token
@counted("oauth")
def authorize(request: HttpRequest) -> HttpResponse:
    """GET: the consent page. POST: Allow -> ?code=&state=, Deny -> ?error=access_denied."""
    source = request.POST if request.method == "POST" else request.GET
    params = {
        "client_id": source.get("client_id", ""),
        "redirect_uri": source.get("redirect_uri", ""),
        # Both default to their only valid value (§1.1, K1).
        "response_type": source.get("response_type") or "code",
        "scope": source.get("scope") or "full",
        "state": source.get("state", ""),
    }
    problem = _params_error(params)
    if problem:
        return render(
            request, "sandbox_keap/authorize.html", {"error": problem, **params}, status=400
        )
    if request.method != "POST":
        return render(request, "sandbox_keap/authorize.html", params)
    if request.POST.get("decision") != "allow":
        # §1.1 (K11 #115): state comes first, even when empty.
        return HttpResponseRedirect(
            _with_query(
                params["redirect_uri"],
                {
                    "state": params["state"],
                    "error": "access_denied",
                    "error_description": "User denied access to resource",
                },
            )
        )
    code = AuthorizationCode.objects.create(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        expires_at=timezone.now() + CODE_TTL,
    )
    control.count("event:codes_issued")
    query = {"code": code.code}
    if params["state"]:
        query["state"] = params["state"]
    return HttpResponseRedirect(_with_query(params["redirect_uri"], query))


def _token_error(body: dict, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _issue(client_id: str) -> JsonResponse:
    ttl = control.config(control.state())["token_ttl"]
    access = AccessToken.objects.create(
        client_id=client_id, expires_at=timezone.now() + timedelta(seconds=ttl)
    )
    refresh = RefreshToken.objects.create(
        client_id=client_id, expires_at=timezone.now() + REFRESH_TTL
    )
    response = JsonResponse(
        {
            "access_token": access.token,
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": refresh.token,
            "scope": f"full|{seed.APP_HOST}",  # the tenant host after a pipe (§1.1)
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _basic_client(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def _client_ok(client_id: str, secret: str) -> bool:
    return secrets.compare_digest(
        client_id, settings.SANDBOX_KEAP_CLIENT_ID
    ) & secrets.compare_digest(secret, settings.SANDBOX_KEAP_CLIENT_SECRET)


@csrf_exempt
@counted("oauth")
def token(request: HttpRequest) -> HttpResponse:
    """POST form-encoded grant -> the token JSON of §1.1."""
    injected = play_fault(control.state(), "token")
    if injected:
        return injected
    if request.method != "POST":
        return _token_error({"error": "invalid_request"}, 405)
    if request.content_type != "application/x-www-form-urlencoded":
        return _token_error(
            {"error": "invalid_request", "error_description": "Form-encoded body required"}, 400
        )
    grant = request.POST.get("grant_type", "")
    if grant == "authorization_code":
        return _exchange_code(request)
    if grant == "refresh_token":
        return _refresh(request)
    return _token_error(
        {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}, 400
    )


def _exchange_code(request: HttpRequest) -> HttpResponse:
    # K12: "Keap doesn't like the Authorization header set during the access token
    # request", so the client authenticates with form fields only.
    if "Authorization" in request.headers or not _client_ok(
        request.POST.get("client_id", ""), request.POST.get("client_secret", "")
    ):
        return _token_error(_BAD_CLIENT, 401)
    with transaction.atomic():
        code = (
            AuthorizationCode.objects.select_for_update()
            .filter(code=request.POST.get("code", ""), used_at__isnull=True)
            .first()
        )
        if (
            code is None
            or code.expires_at <= timezone.now()
            or code.client_id != request.POST["client_id"]
            or code.redirect_uri != request.POST.get("redirect_uri", "")
        ):
            return _token_error(_BAD_CODE, 400)
        code.used_at = timezone.now()
        code.save(update_fields=["used_at"])
        control.count("event:code_exchanges")
        return _issue(code.client_id)


def _refresh(request: HttpRequest) -> HttpResponse:
    # Both SDKs send the client as HTTP Basic on refresh and strip it from the body (§1.1).
    client = _basic_client(request)
    if client is None or not _client_ok(*client):
        return _token_error(_BAD_CLIENT, 401)
    presented = request.POST.get("refresh_token", "")
    with transaction.atomic():
        row = RefreshToken.objects.select_for_update().filter(token=presented).first()
        if row is not None:
            row.presented += 1
            row.save(update_fields=["presented"])
        usable = (
            row is not None
            and row.used_at is None
            and row.expires_at > timezone.now()
            and row.client_id == client[0]
        )
        if not usable:
            control.reject_refresh()
            return _token_error(_BAD_REFRESH, 400)
        # Rotation: the presented token is spent; the answer carries its successor.
        row.used_at = timezone.now()
        row.save(update_fields=["used_at"])
        control.count("event:refresh_grants")
        return _issue(row.client_id)
