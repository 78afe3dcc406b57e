"""The intake benchmark's reference views (mounted at /bench/ when BENCH_REFERENCE_VIEWS
is on; see `make bench`). They bound what intake could cost on the same server:

- bench/bare: parse the JSON body, answer 202 — Django + gunicorn alone;
- bench/raw-insert: the same plus ONE raw INSERT of the body — the floor for
  storing a lead.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


def _parsed(request: HttpRequest) -> dict | None:
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> JsonResponse:
    if _parsed(request) is None:
        return JsonResponse({"error": "invalid"}, status=400)
    return JsonResponse({"ok": True}, status=202)


@csrf_exempt
@require_POST
def raw_insert(request: HttpRequest) -> JsonResponse:
    if _parsed(request) is None:
        return JsonResponse({"error": "invalid"}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_raw_lead (body) VALUES (%s) RETURNING id",
            [request.body.decode()],
        )
        (new_id,) = cursor.fetchone()
    return JsonResponse({"id": new_id}, status=202)


urlpatterns = [
    path("bare", bare, name="bench-bare"),
    path("raw-insert", raw_insert, name="bench-raw-insert"),
]
