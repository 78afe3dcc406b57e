"""Mapping templates: "{{first_name}} {{last_name}}" filled from a lead's fields.

Deliberately tiny: a template is text with {{field}} placeholders (an optional
"lead." prefix is accepted, as LeadConduit writes them). Unknown fields are empty.
"""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*(?:lead\.)?([\w.]+)\s*\}\}")


def is_template(source: str) -> bool:
    return "{{" in source


def render(template: str, fields: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = lookup(fields, match.group(1))
        return "" if found is None else str(found)

    return _PLACEHOLDER.sub(value, template).strip()


def lookup(fields: dict[str, Any], name: str) -> Any:
    """A field by name; dotted names reach into nested objects."""
    if name in fields:
        return fields[name]
    current: Any = fields
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
