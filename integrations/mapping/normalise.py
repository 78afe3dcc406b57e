"""A lead's payload as received → the normalised fields the mappings read.

Pure functions, no I/O. Keys are folded to snake_case lower case ("First Name" →
"first_name"; letters and digits of every script are kept: "Ñandú" → "ñandú", "名前");
strings are stripped; the email is lower-cased. Nothing is dropped:
the raw payload is stored beside the fields.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_KEY_JUNK = re.compile(r"[^\w.]+")  # \w on str: letters and digits of any script, and _


class LeadInvalid(ValueError):
    """The payload cannot be a lead. `fields` maps a field to its error messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("invalid lead")
        self.fields = fields


def normalise_key(key: str) -> str:
    # NFC first, so a decomposed "n + combining tilde" is the letter "ñ", not "n_".
    return _KEY_JUNK.sub("_", unicodedata.normalize("NFC", key).strip().lower()).strip("_")


def _normalise_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {normalise_key(str(k)): _normalise_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_value(v) for v in value]
    return value


def _too_long(value: Any, limit: int) -> bool:
    if isinstance(value, str):
        return len(value) > limit
    if isinstance(value, dict):
        return any(_too_long(v, limit) for v in value.values())
    if isinstance(value, list):
        return any(_too_long(v, limit) for v in value)
    return False


def lead_fields(payload: Any, *, max_field_chars: int) -> dict[str, Any]:
    """Validate and normalise. Raises LeadInvalid for input that cannot be a lead."""
    if not isinstance(payload, dict):
        raise LeadInvalid({"__all__": ["The body must be a JSON object or form fields."]})
    if not payload:
        raise LeadInvalid({"__all__": ["The lead has no fields."]})
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    for raw_key, raw_value in payload.items():
        key = normalise_key(str(raw_key))
        if not key:
            errors.setdefault(str(raw_key)[:100] or "(empty)", []).append(
                "Field names need at least one letter or digit."
            )
            continue
        if _too_long(raw_value, max_field_chars):
            errors.setdefault(key, []).append(
                f"Ensure this value has at most {max_field_chars} characters."
            )
            continue
        fields[key] = _normalise_value(raw_value)
    if errors:
        raise LeadInvalid(errors)
    if isinstance(fields.get("email"), str):
        fields["email"] = fields["email"].lower()
    return fields
