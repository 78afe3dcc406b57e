"""GET /healthz: database and broker status.

200 while leads can be stored (the database answers), even if the broker is down:
leads are then kept and the sweeper enqueues them once it is back. 503 otherwise.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ok"
        return False


def _broker_ok() -> bool:
    from leadflow.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


@csrf_exempt  # no cookies: a wrong method is a plain 405
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database, broker = _database_ok(), _broker_ok()
    return JsonResponse(
        {
            "status": "ok" if database and broker else ("degraded" if database else "down"),
            "database": "ok" if database else "error",
            "broker": "ok" if broker else "error",
        },
        status=200 if database else 503,
    )
