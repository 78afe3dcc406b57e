"""Inbound API keys: `X-Api-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

from django.http import HttpRequest

from integrations.models import Source
from integrations.secrets import digest


def presented_key(request: HttpRequest) -> str:
    key = request.headers.get("X-Api-Key", "")
    if not key:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = value
    return key.strip()


def source_for_key(key: str, *, flow_id: int) -> Source | None:
    """The active source of `flow_id` owning `key`: one lookup on the digest index."""
    if not key:
        return None
    return (
        Source.objects.select_related("flow")
        .filter(key_digest=digest(key), flow_id=flow_id, active=True)
        .first()
    )


def flow_ids_for_key(key: str) -> list[int]:
    """Every flow the key may read leads of."""
    if not key:
        return []
    return list(
        Source.objects.filter(key_digest=digest(key), active=True).values_list("flow_id", flat=True)
    )
