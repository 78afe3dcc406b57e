"""The sandbox's own endpoints (not Keap's): `_control/*` for tests and the demo, and
a small HTML page listing what arrived. No auth: the sandbox only runs with
SANDBOX_ENABLED, which is off in production.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from . import control, store
from .models import Contact


@csrf_exempt
def faults(request: HttpRequest) -> HttpResponse:
    """GET: queued faults and effective config. POST: change them (see urls.py)."""
    if request.method == "GET":
        return JsonResponse(control.describe(control.state()))
    if request.method != "POST":
        return JsonResponse({"message": "Method not allowed"}, status=405)
    try:
        return JsonResponse(control.apply(json.loads(request.body or b"{}")))
    except (ValueError, control.ControlError) as error:
        return JsonResponse({"message": str(error)}, status=400)


def stats(request: HttpRequest) -> HttpResponse:
    return JsonResponse(control.stats())


def contacts(request: HttpRequest) -> HttpResponse:
    """Every contact with every field, tag, sequence and note; ?email= narrows."""
    query = Contact.objects.select_related("company").order_by("id")
    if request.GET.get("email"):
        query = query.filter(store.email_q(request.GET["email"]))
    return JsonResponse({"contacts": [store.contact_everything(c) for c in query]})


def index(request: HttpRequest) -> HttpResponse:
    rows = [store.contact_everything(c) for c in Contact.objects.order_by("-id")[:200]]
    return render(
        request,
        "sandbox_keap/index.html",
        {"contacts": rows},
    )
