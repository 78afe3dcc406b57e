"""JSON errors for the API: every answer under /api/ (and /healthz) that is an error
is `{"error", "message", "fields"?}`, whoever produced it — a view, the URL resolver
(404), a method check (405), the CSRF check (403) or an uncaught exception (500)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.db import Error as DatabaseFailure
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/healthz")

# The `error` code of each status a view does not word itself.
_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}
_KEPT_HEADERS = ("Allow", "Retry-After")


def error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, **extra}, status=status)


def unavailable() -> JsonResponse:
    response = error(503, "unavailable", "The database is unavailable; nothing was stored.")
    response["Retry-After"] = "5"
    return response


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class ApiErrorsMiddleware:
    """Outermost middleware. On API paths: a database failure that reaches it (say,
    PostgreSQL is down while a source is looked up) becomes a 503 the client may retry,
    and any other error response that is not JSON is replaced by its JSON form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _as_json(response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api(request.path) and isinstance(exception, DatabaseFailure):
            log.warning("database unavailable on %s: %r", request.path, exception)
            return unavailable()
        return None  # Django's handler logs it and answers 500, made JSON above


def _as_json(response: HttpResponse) -> JsonResponse:
    status = response.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    message = {
        403: "Forbidden.",
        404: "No such resource.",
        405: f"Method not allowed; use {response.get('Allow', 'another method')}.",
        500: "Internal error; the request may not have been processed.",
    }.get(status, f"{phrase}.")
    replacement = error(status, _CODES.get(status, phrase.lower().replace(" ", "_")), message)
    for header in _KEPT_HEADERS:
        if header in response:
            replacement[header] = response[header]
    return replacement
