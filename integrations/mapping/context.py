"""The context templates and rules read: the lead, system fields, earlier steps.

    {"lead": {<normalised lead fields>},
     "system": {"lead_id", "received_at", "flow", "flow_id", "source", "now"},
     "<step key>": {"outcome", "contact_id", "duplicate", "reason"}, ...}

Pure: the delivery engine (and the preview) load the rows and pass plain values.
Everything in the context is JSON-shaped (dates as ISO strings), so a preview can
show it as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
RESERVED_KEYS = frozenset({"lead", "system"})


@dataclass(frozen=True)
class SystemFields:
    lead_id: str = ""
    received_at: datetime | None = None
    flow: str = ""
    flow_id: int | None = None
    source: str = ""
    now: datetime | None = None  # None: the caller's clock is not needed (tests, bench)


@dataclass(frozen=True)
class StepResult:
    """An earlier step's delivery outcome, as the seeds name it (`keap.outcome`)."""

    outcome: str
    contact_id: str = ""
    duplicate: bool | None = None
    reason: str = ""


def step_key(step_name: str) -> str:
    """A step's name as a context key: `"Keap REST (demo)"` -> `keap_rest_demo`.

    Accents fold to ASCII; a name with no letters or digits becomes "step"; a name
    that would shadow `lead` or `system` gets a `step_` prefix.
    """
    folded = unicodedata.normalize("NFKD", step_name).encode("ascii", "ignore").decode()
    key = _NOT_SLUG.sub("_", folded.lower()).strip("_") or "step"
    if key[0].isdigit() or key in RESERVED_KEYS:
        key = f"step_{key}"
    return key


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


def lead_context(
    *, fields: Mapping[str, Any], system: SystemFields, steps: Mapping[str, StepResult]
) -> dict[str, Any]:
    """The context for one lead. `steps` maps step keys (see step_key) to results."""
    context: dict[str, Any] = {
        key: {
            "outcome": result.outcome,
            "contact_id": result.contact_id,
            "duplicate": result.duplicate,
            "reason": result.reason,
        }
        for key, result in steps.items()
        if key not in RESERVED_KEYS
    }
    context["lead"] = dict(fields)
    context["system"] = {
        "lead_id": system.lead_id,
        "received_at": _iso(system.received_at),
        "flow": system.flow,
        "flow_id": system.flow_id,
        "source": system.source,
        "now": _iso(system.now),
    }
    return context


def context_value(context: Mapping[str, Any], path: str | tuple[str, ...]) -> Any:
    """The value at a dotted path (`lead.utm.source`), or None when absent.

    Lead field names may themselves hold dots (intake keeps them), so at each level
    the rest of the path is also tried as one key. List items are reached by index
    (`lead.touchpoints.0`).
    """
    parts = tuple(path.split(".")) if isinstance(path, str) else path
    current: Any = context
    for index, part in enumerate(parts):
        if isinstance(current, Mapping):
            if part in current:
                current = current[part]
                continue
            rest = ".".join(parts[index:])
            return current.get(rest) if index < len(parts) - 1 else None
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
            continue
        return None
    return current


def context_getter(path: str | tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """context_value for one path, as a function of the context: the one- and
    two-part paths rules and mappings mostly name (`lead.score`) read by dict look-ups,
    anything else by context_value itself. Same answers for every context."""
    parts = tuple(path.split(".")) if isinstance(path, str) else path
    if len(parts) == 1:
        (only,) = parts

        def get_one(context: Mapping[str, Any]) -> Any:
            if type(context) is dict:
                return context.get(only)
            return context_value(context, parts)

        return get_one
    if len(parts) == 2:
        first, second = parts
        joined = ".".join(parts)

        def get_two(context: Mapping[str, Any]) -> Any:
            if type(context) is dict:
                if first not in context:
                    return context.get(joined)  # a field name holding a dot
                inner = context[first]
                if type(inner) is dict:
                    return inner.get(second)
            return context_value(context, parts)

        return get_two
    return lambda context: context_value(context, parts)
