"""What stands in front of every sandbox API view, in HighLevel's order: the `Version`
header, the bearer token, the rate limits, then any armed fault (wire spec §6.1, §6.4,
§6.5). Also the NestJS-shaped error bodies the views share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .. import fault_modes
from . import faults, ratelimit, seed
from .models import Location, OAuthToken

# §6.1: contacts declare 2021-07-28; 2021-04-15 was observed to work as well.
ACCEPTED_VERSIONS = frozenset({"2021-07-28", "2021-04-15"})
MOUNT = "/highlevel/"


@dataclass(frozen=True)
class Caller:
    location: Location
    app: str  # the OAuth client id, or "pit" for the private integration token


def error(status: int, message: str | list[str], **extra: Any) -> JsonResponse:
    """HighLevel's NestJS error body: 400 messages are strings, 422 ones arrays (§6.5)."""
    return JsonResponse({"statusCode": status, "message": message, **extra}, status=status)


def unprocessable(messages: list[str]) -> JsonResponse:
    faults.bump("validation_errors")
    return error(422, messages, error="Unprocessable Entity")


def unauthorized(message: str = "Invalid token: access token is invalid") -> JsonResponse:
    return error(401, message, error="Unauthorized")


def forbidden_location() -> JsonResponse:
    return error(403, "The token is not authorized for this location.", error="Forbidden")


def no_route(request: HttpRequest) -> JsonResponse:
    """NestJS's answer for a method or path it has no handler for."""
    path = request.path_info.split(MOUNT, 1)[-1]
    return error(404, f"Cannot {request.method} /{path}", error="Not Found")


def fault_response(status: int) -> JsonResponse:
    phrase = HTTPStatus(status).phrase
    if status == 422:
        return error(422, [phrase], error=phrase)
    if status == 429:
        return error(429, "Too Many Requests")
    return error(status, phrase)


def read_json(request: HttpRequest) -> tuple[Any, JsonResponse | None]:
    """The parsed body (an empty one is {}), or the 400 body-parser answer."""
    if not request.body:
        return {}, None
    try:
        return json.loads(request.body), None
    except ValueError:
        return None, error(400, "Unexpected token in JSON", error="Bad Request")


def authenticate(request: HttpRequest, sandbox: Location) -> Caller | JsonResponse:
    """The caller behind the bearer token: the private integration token of the sandbox
    location, or an unexpired OAuth access token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return unauthorized()
    if token == settings.SANDBOX_HIGHLEVEL_TOKEN:
        return Caller(sandbox, "pit")
    issued = OAuthToken.objects.select_related("location").filter(access_token=token).first()
    if issued is None:
        return unauthorized()
    if issued.access_expires_at <= timezone.now():
        return unauthorized("Invalid JWT")  # the observed answer for an expired token (§6.5)
    return Caller(issued.location, issued.client_id)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a view taking (request, caller, **kwargs) with HighLevel's front door."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        sandbox = seed.ensure_seeded()
        faults.bump("requests")
        version = request.headers.get("Version")
        if not version:
            return error(401, "version header was not found.")
        if version not in ACCEPTED_VERSIONS:
            return error(401, "version header is invalid")
        caller = authenticate(request, sandbox)
        if isinstance(caller, HttpResponse):
            return caller
        verdict = ratelimit.check(app=caller.app, location_id=caller.location.id)
        headers = verdict.headers
        retry_after = faults.config()["retry_after"]
        if not verdict.allowed:
            faults.bump("rate_limited")
            response: HttpResponseBase = fault_response(429)
        else:
            path = request.path_info.split(MOUNT, 1)[-1]
            fault = faults.take(target="api", path=path, method=request.method or "")
            if fault is None:
                response = view(request, caller, **kwargs)
            else:
                # `created` faults process the request, then answer with the fault
                # (§7.3.4 "422 yet created"): see integrations.sandbox.fault_modes.
                response = fault_modes.play(
                    request,
                    asdict(fault),
                    lambda: view(request, caller, **kwargs),
                    lambda status, _: fault_response(status),
                )
                if fault.status == 429:
                    headers = ratelimit.exhausted_headers(headers)
                if fault.retry_after is not None:
                    retry_after = fault.retry_after
        for name, value in headers.items():
            response[name] = value
        if response.status_code == 429 and retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response

    return wrapper


def check_location(caller: Caller, location_id: Any) -> JsonResponse | None:
    """None when `location_id` is the token's own location."""
    if not location_id:
        return unprocessable(["locationId should not be empty", "locationId must be a string"])
    if location_id != caller.location.id:
        return forbidden_location()
    return None
