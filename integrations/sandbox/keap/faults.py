"""Keap's error shapes: Apigee gateway faults (HTTP errors, REST and XML-RPC alike) and
XML-RPC faults (HTTP 200 with a fault envelope).

Reference: crm-wire-spec.md §2.5 (gateway bodies), §4 (429), §5.1-5.2 (XML-RPC faults).
"""

from __future__ import annotations

from xmlrpc.client import DateTime, Fault

from django.http import JsonResponse

INVALID_TOKEN = ("Invalid Access Token", "keymanagement.service.invalid_access_token")
EXPIRED_TOKEN = ("Access Token expired", "keymanagement.service.access_token_expired")
# Apigee's stock bodies for backend trouble, used by injected 5xx faults.
_FLOW = "messaging.adaptors.http.flow"
_STOCK = {
    502: ("Unexpected EOF at target", f"{_FLOW}.UnexpectedEOFAtTarget"),
    503: ("The Service is temporarily unavailable", f"{_FLOW}.ServiceUnavailable"),
    504: ("Gateway Timeout", f"{_FLOW}.GatewayTimeout"),
}


def gateway_fault(faultstring: str, errorcode: str, *, status: int) -> JsonResponse:
    body = {"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}
    return JsonResponse(body, status=status)


def unauthorized(*, expired: bool = False) -> JsonResponse:
    return gateway_fault(*(EXPIRED_TOKEN if expired else INVALID_TOKEN), status=401)


def rate_limited(identifier: str, retry_after: int | None) -> JsonResponse:
    # §4: Keap's Apigee quota body; Retry-After is undocumented, so off unless configured.
    response = gateway_fault(
        f"Rate limit quota violation. Quota limit exceeded. Identifier : {identifier}",
        "policies.ratelimit.QuotaViolation",
        status=429,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def injected(status: int, body: dict | None, retry_after: int | None) -> JsonResponse:
    """The response of a fault queued through _control/faults."""
    if status == 429:
        response = rate_limited("sandbox-injected", retry_after)
    elif status == 401:
        response = unauthorized()
    elif status in _STOCK:
        response = gateway_fault(*_STOCK[status], status=status)
    else:
        response = JsonResponse({"message": "Injected fault"}, status=status)
    if body is not None:
        response = JsonResponse(body, status=status, safe=False)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
    return response


# --- XML-RPC faults (§5.2: bracket tag, then text, no space) ----------------------------


def no_field(table: str, name: str) -> Fault:
    return Fault(10, f"[NoFieldFound]No field found: {table}.{name}")


def read_only(table: str, name: str) -> Fault:
    return Fault(8, f"[NoFieldAccess]Field is read-only: {table}.{name}")


def record_not_found(verb: str, record_id: int) -> Fault:
    return Fault(
        5, f"[RecordNotFound]Unable to perform {verb}. Record not found for Id:{record_id}"
    )


def loading(what: str) -> Fault:
    return Fault(6, f"[Loading]Error loading {what}")


def invalid_parameter(text: str) -> Fault:
    return Fault(12, f"[InvalidParameter]{text}")


def no_table(table: str) -> Fault:
    return Fault(9, f"[NoTableFound]No table found: {table} (not emulated by the sandbox)")


def no_such_handler(method: str) -> Fault:
    return Fault(0, f"No such handler: {method}")


_JAVA_TYPES = (
    (bool, "java.lang.Boolean"),
    (int, "java.lang.Integer"),
    (float, "java.lang.Double"),
    (str, "java.lang.String"),
    (dict, "java.util.HashMap"),
    (list, "[Ljava.lang.Object;"),
    (DateTime, "java.util.Date"),
)


def no_method_matching(params: tuple) -> Fault:
    """Apache XML-RPC's answer to a wrong arity or type (§5.1, K25)."""
    names = []
    for value in params:
        names.append(next((j for t, j in _JAVA_TYPES if isinstance(value, t)), "[B"))
    return Fault(0, f"No method matching arguments: {', '.join(names)}")
