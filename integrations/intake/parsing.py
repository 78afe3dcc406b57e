"""Request bodies → a payload dict. JSON objects and form fields are accepted.

Hostile bodies are refused before anything recursive touches them: the nesting depth
and the number of values of a JSON body are measured by a flat scan of its text, so
neither the JSON decoder nor the normaliser can run out of stack. Then every value is
checked to be storable and deliverable (finite numbers, text without NUL or lone
surrogates), each problem named by its field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import parse_qsl

from integrations.mapping.normalise import LeadInvalid


class UnsupportedMediaType(Exception):
    pass


@dataclass(frozen=True)
class BodyLimits:
    max_depth: int  # nested objects / arrays, the lead object itself being 1
    max_values: int  # every value, container or scalar, at any depth
    max_fields: int  # top-level fields


def parse_body(body: bytes, content_type: str, *, limits: BodyLimits) -> Any:
    """The payload of a lead body. Raises LeadInvalid (400) or UnsupportedMediaType (415).

    The result is any JSON value; when it is an object, its values, at any depth,
    are JSON-storable and deliverable; it may still be no lead (see `lead_fields`)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("application/json", "") or media.endswith("+json"):
        payload = _json_payload(body, limits)
    elif media == "application/x-www-form-urlencoded":
        payload = _form_payload(body, limits)
    else:
        raise UnsupportedMediaType(media)
    if isinstance(payload, dict):
        _check_values(payload, limits)
    return payload


def _json_payload(body: bytes, limits: BodyLimits) -> Any:
    if not body.strip():
        raise LeadInvalid({"__all__": ["The body is empty."]})
    _check_shape(body, limits)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LeadInvalid({"__all__": [f"Malformed JSON: {_short(exc)}"]}) from None


def _form_payload(body: bytes, limits: BodyLimits) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",  # a percent-encoded byte that is not UTF-8 is refused, not guessed
            max_num_fields=limits.max_fields,
        )
    except UnicodeDecodeError:
        raise LeadInvalid({"__all__": ["Form fields must be UTF-8."]}) from None
    except ValueError:  # parse_qsl: "Max number of fields exceeded"
        raise LeadInvalid({"__all__": [_too_many_fields(limits)]}) from None
    return dict(pairs)


# One pass over the text: a string (with its escapes, closed or not) is one token and
# captures nothing; a structural character is captured. Linear time, no backtracking.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*+"?|([\[\]{},])', re.DOTALL)
_DEPTH_STEP = {b"[": 1, b"{": 1, b"]": -1, b"}": -1, b",": 0}


def _check_shape(body: bytes, limits: BodyLimits) -> None:
    """Depth and value count from the text alone, in linear time and constant stack."""
    openers = body.count(b"[") + body.count(b"{")
    if openers <= limits.max_depth and body.count(b",") < limits.max_values:
        return  # the usual flat lead: it cannot be over either limit
    structure = [token for token in _TOKEN.findall(body) if token]
    depth = max(accumulate(_DEPTH_STEP[token] for token in structure), default=0)
    if depth > limits.max_depth:
        raise LeadInvalid(
            {"__all__": [f"The body is nested more than {limits.max_depth} levels deep."]}
        )
    values = len(structure) - structure.count(b"]") - structure.count(b"}")
    if values > limits.max_values:
        raise LeadInvalid({"__all__": [f"The body has more than {limits.max_values} values."]})


def _check_values(payload: dict[str, Any], limits: BodyLimits) -> None:
    if len(payload) > limits.max_fields:
        raise LeadInvalid({"__all__": [_too_many_fields(limits)]})
    errors: dict[str, list[str]] = {}
    for key, value in payload.items():
        problem = _text_problem(key) or _value_problem(value)
        if problem:
            errors.setdefault(_printable(key), []).append(problem)
    if errors:
        raise LeadInvalid(errors)


def _value_problem(value: Any) -> str | None:
    """What makes `value` unstorable or undeliverable, or None. Recursion is bounded by
    the depth checked in `_check_shape`."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "Numbers must be finite: NaN, Infinity and numbers beyond ±1.8e308 are refused."
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key) or _value_problem(item)
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = _value_problem(item)
            if problem:
                return problem
    return None


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return "Text must not contain NUL (\\u0000) characters." if "\x00" in text else None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (JSON "\ud800" without its pair) is not a character: no CRM
        # and no UTF-8 database can hold it. Refused rather than repaired, so the
        # sender learns of it while it can still send the right text.
        return "Text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is refused."
    return "Text must not contain NUL (\\u0000) characters." if "\x00" in text else None


def _printable(key: str) -> str:
    """A field name safe to echo in an error: escapes for what cannot be encoded."""
    return (
        key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")[:100]
        or "(empty)"
    )


def _too_many_fields(limits: BodyLimits) -> str:
    return f"A lead has at most {limits.max_fields} fields."


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]
