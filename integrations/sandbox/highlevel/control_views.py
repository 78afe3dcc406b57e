"""The sandbox's own switches under _control/: not part of HighLevel's API.

POST _control/faults     {"status":503,"count":2} | {"latency_ms":3000} | {"status":422,
                         "created":true} | {"expire_tokens":true} | {"reset":true}
                         | {"config": {"burst_max": 5, ...}}   (see faults.DEFAULT_CONFIG)
                         a fault may add "path" (substring of the path after
                         /sandbox/highlevel/), "method", "target" ("api" | "token") and
                         "retry_after" (seconds, sent as Retry-After on a 429), and the
                         shared modes of integrations.sandbox.fault_modes: "jitter_ms",
                         "probability", "drop", "malformed", "created" (processed, then
                         answered with the status / drop / malformed body / latency)
GET  _control/faults     armed faults and the current config
POST _control/location   {"allow_duplicates": true}
GET  _control/stats      counters
GET  _control/contacts   every contact with all fields, tags, workflows, campaigns
GET  (empty path)        an HTML list of the contacts
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import faults, seed, store
from .models import Contact, Location, OAuthToken


def _json(request: HttpRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults_control(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse({"faults": faults.armed(), "config": faults.config()})
    spec = _json(request)
    if spec is None:
        return _bad("body must be a JSON object")
    done: dict[str, Any] = {}
    try:
        if spec.pop("reset", False):
            faults.reset()
            done["reset"] = True
        if spec.pop("expire_tokens", False):
            seed.ensure_seeded()
            done["expired_tokens"] = OAuthToken.objects.filter(
                access_expires_at__gt=timezone.now()
            ).update(access_expires_at=timezone.now())
        if "config" in spec:
            config = spec.pop("config")
            if not isinstance(config, dict):
                return _bad("config must be an object")
            done["config"] = faults.configure(config)
        if spec:
            fault = faults.Fault.from_json(spec)
            faults.arm(fault)
            done["armed"] = fault.__dict__
    except faults.FaultSpecError as exc:
        return _bad(str(exc))
    return JsonResponse(done)


@csrf_exempt
@require_POST
def location_control(request: HttpRequest) -> HttpResponse:
    spec = _json(request)
    if spec is None or not isinstance(spec.get("allow_duplicates"), bool):
        return _bad('expected {"allow_duplicates": true|false}')
    location = seed.ensure_seeded()
    Location.objects.filter(pk=location.pk).update(allow_duplicates=spec["allow_duplicates"])
    seed.forget()
    return JsonResponse({"locationId": location.pk, "allow_duplicates": spec["allow_duplicates"]})


@require_GET
def stats_control(request: HttpRequest) -> HttpResponse:
    counters = faults.stats()
    counters["contacts"] = Contact.objects.count()
    return JsonResponse(counters)


@require_GET
def contacts_control(request: HttpRequest) -> HttpResponse:
    """Every contact as the API shows it, plus what the API never lists: enrolments and
    the custom fields' keys. `?email=` narrows to one address (case-insensitive)."""
    found = Contact.objects.all()
    if request.GET.get("email"):
        found = found.filter(email_lower=request.GET["email"].lower())
    rows = []
    for contact in found:
        row = store.serialize(contact)
        row.update(
            firstName=contact.first_name,
            lastName=contact.last_name,
            dateOfBirth=contact.date_of_birth.isoformat() if contact.date_of_birth else None,
            workflows=contact.workflows,
            campaigns=contact.campaigns,
        )
        rows.append(row)
    return JsonResponse({"contacts": rows})


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """What arrived, newest first, for a person watching the demo."""
    contacts = Contact.objects.order_by("-date_added", "-id")[:200]
    return render(request, "sandbox_highlevel/index.html", {"contacts": contacts})
