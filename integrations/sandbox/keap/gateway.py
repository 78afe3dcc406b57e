"""What Keap's API gateway (Apigee) does before and after any API view: count the
call, play queued faults, authenticate, rate-limit, and add the quota headers.

Gateway rejections (401, 429, injected 5xx) are HTTP errors on REST and XML-RPC
alike: XML-RPC faults are reserved for the application (§7.2.6).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .. import fault_modes
from . import auth, control, faults, ratelimit

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def route_label(request: HttpRequest) -> str:
    """`POST crm/rest/v1/contacts/{contact_id}/tags`: the route, not the ids."""
    route = request.resolver_match.route if request.resolver_match else request.path
    route = _CONVERTER.sub(r"{\1}", route.split("keap/", 1)[-1])
    return f"{request.method} {route}"


def counted(section: str) -> Callable:
    """Count the call under `section` ("api" or "oauth") and its status, for
    _control/stats."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            control.count(f"{section}:{route_label(request)}")
            response = view(request, *args, **kwargs)
            control.count(f"status:{response.status_code}")
            return response

        return wrapper

    return decorate


def play_fault(row: control.ControlState, target: str) -> HttpResponse | None:
    """For the token endpoint: consume a queued fault for `target`; sleeps for its
    latency, and returns the response to send instead, if the fault has a status."""
    rule = control.take_fault(row, target)
    if rule is None:
        return None
    fault_modes.wait(rule)
    return _injected(int(rule["status"]), rule) if rule.get("status") else None


def _injected(status: int, rule: dict) -> HttpResponse:
    return faults.injected(status, rule.get("body"), rule.get("retry_after"))


_METHOD_NAME = re.compile(rb"<methodName>\s*([\w.]+)\s*</methodName>")


def fault_subject(request: HttpRequest) -> str:
    """What a fault's `path` is matched against: the path after keap/, and for
    XML-RPC the method called ("crm/xmlrpc/v1 ContactService.addToGroup")."""
    subject = request.path.split("keap/", 1)[-1]
    if "xmlrpc" in subject:
        name = _METHOD_NAME.search(request.body[:2000])
        subject += f" {name.group(1).decode()}" if name else ""
    return subject


def keap_api(target: str) -> Callable:
    """Decorate an API view (target "rest" or "xmlrpc"). The view receives the
    caller's `credential` keyword argument."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @counted("api")
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            row = control.state()

            def through() -> HttpResponse:
                credential = auth.authenticate(request)
                if isinstance(credential, HttpResponse):
                    return credential
                verdict = ratelimit.check(
                    kind=credential.kind,
                    identifier=credential.identifier,
                    epoch=row.epoch,
                    conf=control.config(row),
                )
                if not verdict.allowed:
                    return verdict.response
                response = view(request, *args, credential=credential, **kwargs)
                for name, value in verdict.headers.items():
                    response[name] = value
                return response

            rule = control.take_fault(row, target, fault_subject(request), request.method or "")
            if rule is None:
                return through()
            # A fault answers before the gateway lets the call through, unless it is
            # `created` (processed first): see integrations.sandbox.fault_modes.
            content_type = "text/xml" if target == "xmlrpc" else "application/json"
            return fault_modes.play(request, rule, through, _injected, content_type=content_type)

        return wrapper

    return decorate
