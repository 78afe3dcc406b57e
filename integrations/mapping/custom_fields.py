"""Custom field values checked against the field's type from the account's catalogue.

Keap's contact model names its types (field_type: "WholeNumber", "Currency", "YesNo",
"Dropdown", ...; https://developer.keap.com/docs/rest/#tag/Contact/operation/retrieveContactModelUsingGET),
HighLevel its dataType ("NUMERICAL", "MONETORY", "CHECKBOX", "SINGLE_OPTIONS", ...;
https://highlevel.stoplight.io/docs/integrations/ custom fields "Get Custom Fields").
A value is converted to what the field holds (a whole number, a date as ISO, ...)
or reported with a message; the mapping's on-invalid choice decides what happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from .values import as_text, parse_bool, parse_date, parse_number

Kind = Literal["whole_number", "decimal", "currency", "date", "yes_no", "dropdown", "text"]

# The registry's field kinds (integrations.crm.spec.FIELD_KINDS) -> what this module
# checks. Email, phone and URL custom fields are sent as text, unchecked (None).
_BY_FIELD_KIND: dict[str, Kind | None] = {
    "integer": "whole_number",
    "decimal": "decimal",
    "currency": "currency",
    "date": "date",
    "boolean": "yes_no",
    "choice": "dropdown",
    "text": "text",
    "email": None,
    "phone": None,
    "url": None,
}
# Types a catalogue may name that the CRM specs leave to the default (text), or spell
# another way; and HighLevel's CHECKBOX, a "choice" that holds several options at once,
# which a single-option check would refuse: sent unchecked.
_MORE_KINDS: dict[str, Kind | None] = {
    "year": "whole_number",  # Keap
    "text": "text",
    "textarea": "text",
    "large_text": "text",  # HighLevel
    "monetary": "currency",  # HighLevel's MONETORY, spelled right
    "checkbox": None,
}


def _kinds_from_registry() -> dict[str, Kind]:
    """Each CRM spec's custom_field_kinds (type as the CRM names it -> field kind),
    case-folded, as the kinds this module checks."""
    from integrations.crm.registry import CRMS

    kinds: dict[str, Kind | None] = {}
    for spec in CRMS.values():
        for raw_type, field_kind in spec.custom_field_kinds.items():
            kinds[raw_type.casefold()] = _BY_FIELD_KIND.get(field_kind)
    kinds.update(_MORE_KINDS)
    return {raw: kind for raw, kind in kinds.items() if kind is not None}


_KINDS: dict[str, Kind] = _kinds_from_registry()
# Text limits where the vendor documents one (Keap "Text" is a 255-character field).
_TEXT_LIMITS = {"text": 255, "textarea": 65_535, "large_text": 65_535}
_DEFAULT_TEXT_LIMIT = 65_535


@dataclass(frozen=True)
class CustomFieldSpec:
    id: str
    name: str
    kind: Kind | None  # None: a type this module does not check (sent as text)
    options: tuple[str, ...] = ()
    max_length: int = _DEFAULT_TEXT_LIMIT


def custom_field_specs(catalogue: Mapping[str, Any]) -> dict[str, CustomFieldSpec]:
    """The catalogue's custom fields by the ids a mapping names them with: the id
    (Keap REST, HighLevel) and, for Keap XML-RPC, `_` + the field's database name."""
    specs: dict[str, CustomFieldSpec] = {}
    items = catalogue.get("custom_fields") if isinstance(catalogue, Mapping) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping) or as_text(item.get("id")) == "":
            continue
        raw_type = as_text(item.get("type")).casefold()
        spec = CustomFieldSpec(
            id=as_text(item.get("id")),
            name=as_text(item.get("name")),
            kind=_KINDS.get(raw_type),
            options=_options(item.get("options")),
            max_length=_TEXT_LIMITS.get(raw_type, _DEFAULT_TEXT_LIMIT),
        )
        specs[spec.id] = spec
        field_name = as_text(item.get("field_name"))
        if field_name:
            specs[f"_{field_name}"] = spec
    return specs


def _options(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    options = []
    for option in raw:
        if isinstance(option, Mapping):
            option = option.get("label", option.get("name", option.get("value")))
        text = as_text(option)
        if text:
            options.append(text)
    return tuple(options)


_TYPED_KINDS = frozenset({"whole_number", "decimal", "currency", "date", "yes_no"})


def custom_value_check(spec: CustomFieldSpec, value: Any) -> tuple[Any, str]:
    """(value converted for the field, "") or (value as received, the problem)."""
    label = spec.name or spec.id
    if spec.kind == "whole_number":
        number = parse_number(value)
        if number is None or not number.is_integer() or abs(number) >= 10**18:
            return value, f"{label} needs a whole number"
        return int(number), ""
    if spec.kind in ("decimal", "currency"):
        number = parse_number(value)
        if number is None:
            return value, f"{label} needs a number"
        if spec.kind == "currency":
            number = round(number, 2)
        return (int(number) if number.is_integer() else number), ""
    if spec.kind == "date":
        day = parse_date(value)
        if day is None:
            return value, f"{label} needs a date"
        return day.isoformat(), ""
    if spec.kind == "yes_no":
        flag = parse_bool(value)
        if flag is None:
            return value, f"{label} needs yes or no"
        return flag, ""
    text = as_text(value) if not isinstance(value, list) else ", ".join(map(as_text, value))
    if spec.kind == "dropdown" and spec.options:
        for option in spec.options:
            if option.casefold() == text.casefold():
                return option, ""
        shown = ", ".join(spec.options[:10])
        return value, f"{label} needs one of its options ({shown})"
    if len(text) > spec.max_length:
        return value, f"{label} holds at most {spec.max_length} characters"
    return text, ""


def custom_value_checker(spec: CustomFieldSpec) -> Callable[[Any], tuple[Any, str]]:
    """custom_value_check for one field, its kind decided once: the typed kinds and a
    text field's string read directly, the rest (dropdowns, lists) by
    custom_value_check."""
    check = partial(custom_value_check, spec)
    limit = spec.max_length
    label = spec.name or spec.id
    if spec.kind == "date":
        needs_date = f"{label} needs a date"

        def date_value(value: Any) -> tuple[Any, str]:
            day = parse_date(value)
            return (value, needs_date) if day is None else (day.isoformat(), "")

        return date_value
    if spec.kind == "whole_number":
        needs_whole = f"{label} needs a whole number"

        def whole_number(value: Any) -> tuple[Any, str]:
            number = parse_number(value)
            if number is None or not number.is_integer() or abs(number) >= 10**18:
                return value, needs_whole
            return int(number), ""

        return whole_number
    if spec.kind in ("decimal", "currency"):
        needs_number, cents = f"{label} needs a number", spec.kind == "currency"

        def decimal(value: Any) -> tuple[Any, str]:
            number = parse_number(value)
            if number is None:
                return value, needs_number
            if cents:
                number = round(number, 2)
            return (int(number) if number.is_integer() else number), ""

        return decimal
    if spec.kind == "yes_no":
        needs_flag = f"{label} needs yes or no"

        def yes_no(value: Any) -> tuple[Any, str]:
            flag = parse_bool(value)
            return (value, needs_flag) if flag is None else (flag, "")

        return yes_no
    if spec.kind is None or (spec.kind not in _TYPED_KINDS and spec.kind != "dropdown"):
        too_long = f"{spec.name or spec.id} holds at most {limit} characters"

        def text(value: Any) -> tuple[Any, str]:
            if type(value) is not str:
                return check(value)
            stripped = value.strip()
            if len(stripped) > limit:
                return value, too_long
            return stripped, ""

        return text
    return check


def custom_mapping_check(*, target: str, constant: Any, catalogue: Mapping[str, Any]) -> list[str]:
    """Save-time check of a custom-field mapping: the field is in the catalogue, and a
    constant value fits its type. For the admin form and the studio."""
    field_id = target.removeprefix("custom:")
    specs = custom_field_specs(catalogue)
    spec = specs.get(field_id)
    if spec is None:
        if not specs:
            return []  # no catalogue yet: nothing to check against
        return [f"custom field {field_id!r} is not in the account's catalogue"]
    if constant is None:
        return []
    _, problem = custom_value_check(spec, constant)
    return [problem] if problem else []
