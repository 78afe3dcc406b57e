"""Request bodies → a payload dict. JSON objects and form fields are accepted."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from integrations.mapping.normalise import LeadInvalid


class UnsupportedMediaType(Exception):
    pass


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Raises LeadInvalid (400) or UnsupportedMediaType (415)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("application/json", "") or media.endswith("+json"):
        if not body.strip():
            raise LeadInvalid({"__all__": ["The body is empty."]})
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LeadInvalid({"__all__": [f"Malformed JSON: {_short(exc)}"]}) from None
        return payload
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise LeadInvalid({"__all__": ["Form fields must be UTF-8."]}) from None
        return dict(pairs)
    raise UnsupportedMediaType(media)


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]
