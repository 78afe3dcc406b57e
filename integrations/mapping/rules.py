"""Rules: conditions on the lead context, stored as data, evaluated without eval.

    {"match": "all" | "any",
     "conditions": [
        {"field": "lead.score", "operator": "gte", "value": "80"},
        {"match": "any", "conditions": [ ... ]}          # nested group
     ]}

An empty rule set (`{}`, `[]`, None, or no conditions) always matches. Fields are
dotted paths into the context of integrations.mapping.context. Comparisons read
values as marketers write them: "80" is a number, "09/25/1990" a date, text is
compared without regard to case or surrounding spaces. A field holding a list
matches eq / in / contains when any of its items does.

Rule sets gate a mapping, a tag or campaign, a step (its criteria), and filter steps.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .context import context_getter, context_value
from .places import country
from .values import (
    FORMATS,
    as_text,
    is_blank,
    is_valid,
    parse_bool,
    parse_moment,
    parse_number,
)

MAX_DEPTH = 5
MAX_CONDITIONS = 100
MAX_LIST_ITEMS = 500
_FIELD = re.compile(r"^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_-]+)*$")

Takes = Literal["none", "value", "number_or_date", "list", "format"]


@dataclass(frozen=True)
class Operator:
    name: str
    label: str  # as a marketer reads it in the editor's operator list
    takes: Takes  # what the condition's value must be


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("eq", "is equal to", "value"),
        Operator("ne", "is not equal to", "value"),
        Operator("blank", "is blank", "none"),
        Operator("not_blank", "is not blank", "none"),
        Operator("gt", "is greater than", "number_or_date"),
        Operator("gte", "is greater than or equal to", "number_or_date"),
        Operator("lt", "is less than", "number_or_date"),
        Operator("lte", "is less than or equal to", "number_or_date"),
        Operator("in", "is included in", "list"),
        Operator("not_in", "is not included in", "list"),
        Operator("contains", "contains", "value"),
        Operator("not_contains", "does not contain", "value"),
        Operator("valid", "format is valid", "format"),
        Operator("invalid", "format is invalid", "format"),
        Operator("true", "is true", "none"),
        Operator("false", "is false", "none"),
    )
}


class RuleError(ValueError):
    """A rule set that cannot be stored. The message says which condition and why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Any = None
    # Parsed once, when the rule set is loaded (evaluation runs per lead).
    path: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)
    text: str = dataclasses.field(default="", compare=False, repr=False)
    number: float | None = dataclasses.field(default=None, compare=False, repr=False)
    moment: datetime | None = dataclasses.field(default=None, compare=False, repr=False)
    items: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)
    item_numbers: frozenset[float] = dataclasses.field(
        default=frozenset(), compare=False, repr=False
    )


@dataclass(frozen=True)
class RuleSet:
    match: Literal["all", "any"] = "all"
    conditions: tuple[Condition | RuleSet, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.conditions


EMPTY = RuleSet()


@dataclass(frozen=True)
class ConditionTrace:
    field: str
    operator: str
    value: Any
    actual: Any  # the context's value at `field`
    matched: bool

    def describe(self) -> str:
        label = OPERATORS[self.operator].label
        expected = "" if OPERATORS[self.operator].takes == "none" else f" {self.value!r}"
        verdict = "yes" if self.matched else "no"
        return f"{self.field} {label}{expected} (is {self.actual!r}): {verdict}"


@dataclass(frozen=True)
class RuleTrace:
    """How a rule set decided, condition by condition (for previews)."""

    match: str
    matched: bool
    items: tuple[ConditionTrace | RuleTrace, ...] = ()

    def describe(self, indent: str = "") -> list[str]:
        lines = [f"{indent}{self.match} of: {'yes' if self.matched else 'no'}"]
        for item in self.items:
            if isinstance(item, RuleTrace):
                lines += item.describe(indent + "  ")
            else:
                lines.append(f"{indent}  {item.describe()}")
        return lines


# --- loading and validating --------------------------------------------------------


def ruleset_from_data(data: object) -> RuleSet:
    """Validate stored data and build the rule set. Raises RuleError(message)."""
    if data is None or data == {} or data == []:
        return EMPTY
    if isinstance(data, list):  # a bare list of conditions: all of them
        data = {"match": "all", "conditions": data}
    count = [0]
    return _group(data, where="", depth=1, count=count)


def _group(data: object, *, where: str, depth: int, count: list[int]) -> RuleSet:
    if not isinstance(data, Mapping):
        raise RuleError(f"{where or 'The rule set'} must be an object with conditions.")
    unknown = set(data) - {"match", "conditions"}
    if unknown:
        raise RuleError(f"{where or 'The rule set'}: unknown key {sorted(unknown)[0]!r}.")
    match = data.get("match", "all")
    if match not in ("all", "any"):
        raise RuleError(f"{where or 'The rule set'}: match must be 'all' or 'any', not {match!r}.")
    conditions = data.get("conditions", [])
    if not isinstance(conditions, list):
        raise RuleError(f"{where or 'The rule set'}: conditions must be a list.")
    built: list[Condition | RuleSet] = []
    for number, item in enumerate(conditions, start=1):
        here = f"{where}, condition {number}" if where else f"Condition {number}"
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise RuleError(f"A rule set holds at most {MAX_CONDITIONS} conditions.")
        if isinstance(item, Mapping) and "conditions" in item:
            if depth >= MAX_DEPTH:
                raise RuleError(f"{here}: groups nest at most {MAX_DEPTH} deep.")
            built.append(_group(item, where=here, depth=depth + 1, count=count))
        else:
            built.append(condition_from_data(item, where=here))
    return RuleSet(match=match, conditions=tuple(built))


def condition_from_data(data: object, *, where: str = "Condition") -> Condition:
    """One condition row, validated. Raises RuleError naming `where`."""
    if not isinstance(data, Mapping):
        raise RuleError(f"{where} must be an object with field, operator and value.")
    unknown = set(data) - {"field", "operator", "value"}
    if unknown:
        raise RuleError(f"{where}: unknown key {sorted(unknown)[0]!r}.")
    name = data.get("field")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"{where}: choose a field.")
    name = name.strip()
    if len(name) > 200 or not _FIELD.match(name):
        raise RuleError(
            f"{where}: {name[:60]!r} is not a field path (like lead.score or keap.outcome)."
        )
    operator = data.get("operator")
    if operator not in OPERATORS:
        known = ", ".join(OPERATORS)
        raise RuleError(f"{where}: unknown operator {operator!r} (one of {known}).")
    takes = OPERATORS[operator].takes
    value = data.get("value")
    label = f"{where}: '{OPERATORS[operator].label}'"
    base = Condition(field=name, operator=operator, value=value, path=tuple(name.split(".")))
    if takes == "none":
        return Condition(field=name, operator=operator, value=None, path=base.path)
    if takes == "value":
        if isinstance(value, list | dict) or value is None or as_text(value) == "":
            hint = " (use 'is blank' for an empty field)" if operator in ("eq", "ne") else ""
            raise RuleError(f"{label} needs a value{hint}.")
        return _with(base, text=as_text(value).casefold(), number=parse_number(value))
    if takes == "number_or_date":
        number, moment = parse_number(value), parse_moment(value)
        if number is None and moment is None:
            raise RuleError(f"{label} needs a number or a date, not {value!r}.")
        return _with(base, number=number, moment=None if number is not None else moment)
    if takes == "list":
        items = _list_items(value)
        if not items:
            raise RuleError(f"{label} needs a list of values (or values separated by commas).")
        if len(items) > MAX_LIST_ITEMS:
            raise RuleError(f"{label} takes at most {MAX_LIST_ITEMS} values.")
        numbers = frozenset(n for n in map(parse_number, items) if n is not None)
        return _with(
            base,
            value=items,
            items=frozenset(i.casefold() for i in items),
            item_numbers=numbers,
        )
    if value not in FORMATS:
        raise RuleError(f"{label} needs a format: one of {', '.join(FORMATS)}.")
    return base


def _with(base: Condition, **changes: Any) -> Condition:
    values = {f: getattr(base, f) for f in base.__dataclass_fields__}
    values.update(changes)
    return Condition(**values)


def _list_items(value: Any) -> list[str]:
    if isinstance(value, str):
        raw: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        raw = list(value)
    else:
        return []
    items = [as_text(v) for v in raw if not isinstance(v, list | dict)]
    return [i for i in items if i]


def ruleset_to_data(ruleset: RuleSet) -> dict[str, Any]:
    """The stored form (what ruleset_from_data reads back)."""
    if ruleset.is_empty:
        return {}
    return {
        "match": ruleset.match,
        "conditions": [
            ruleset_to_data(item) if isinstance(item, RuleSet) else _condition_data(item)
            for item in ruleset.conditions
        ],
    }


def _condition_data(condition: Condition) -> dict[str, Any]:
    data: dict[str, Any] = {"field": condition.field, "operator": condition.operator}
    if OPERATORS[condition.operator].takes != "none":
        data["value"] = condition.value
    return data


# --- evaluating --------------------------------------------------------------------


def rules_evaluate(ruleset: RuleSet, context: Mapping[str, Any]) -> bool:
    """Whether the context meets the rule set. Never raises for any context."""
    if not ruleset.conditions:
        return True
    if ruleset.match == "all":
        return all(_holds(item, context) for item in ruleset.conditions)
    return any(_holds(item, context) for item in ruleset.conditions)


def _holds(item: Condition | RuleSet, context: Mapping[str, Any]) -> bool:
    if isinstance(item, RuleSet):
        return rules_evaluate(item, context)
    region = _region(context) if item.operator in ("valid", "invalid") else "US"
    return condition_holds(item, context_value(context, item.path), region=region)


def _region(context: Mapping[str, Any]) -> str:
    """The country phones and postal codes are read for: the lead's country, else the
    account's or flow's default region (`system.region`), else the US."""
    lead = context.get("lead")
    if type(lead) is dict or isinstance(lead, Mapping):
        written = lead.get("country")
    else:
        written = None
    codes = country(written) if isinstance(written, str) and len(written) < 60 else None
    if codes is not None:
        return codes[0]
    system = context.get("system")
    if type(system) is dict or isinstance(system, Mapping):
        region = system.get("region")
    else:
        region = None
    return region if isinstance(region, str) and region else "US"


def rules_explain(ruleset: RuleSet, context: Mapping[str, Any]) -> RuleTrace:
    """Every condition's result (no short-circuit), for previews."""
    items: list[ConditionTrace | RuleTrace] = []
    for item in ruleset.conditions:
        if isinstance(item, RuleSet):
            items.append(rules_explain(item, context))
        else:
            actual = context_value(context, item.path)
            region = _region(context) if item.operator in ("valid", "invalid") else "US"
            matched = condition_holds(item, actual, region=region)
            items.append(ConditionTrace(item.field, item.operator, item.value, actual, matched))
    results = [i.matched for i in items]
    matched = not results or (all(results) if ruleset.match == "all" else any(results))
    return RuleTrace(match=ruleset.match, matched=matched, items=tuple(items))


def condition_holds(condition: Condition, actual: Any, *, region: str = "US") -> bool:
    """One condition against the context's value at its field. `region`: the country
    (alpha-2) phones and postal codes are checked for."""
    if condition.operator == "valid":
        return is_valid(actual, str(condition.value), region=region)
    if condition.operator == "invalid":
        return not is_valid(actual, str(condition.value), region=region)
    return _CHECKS[condition.operator](condition, actual)


def _scalars(actual: Any) -> list[Any]:
    if isinstance(actual, _SEQUENCES):
        return [a for a in actual if not isinstance(a, _CONTAINERS)]
    if isinstance(actual, dict):
        return []
    return [actual]


_SEQUENCES = (list, tuple)  # tuples of types: faster isinstance than `list | tuple`
_CONTAINERS = (list, tuple, dict)


def _equals(condition: Condition, actual: Any) -> bool:
    for item in _scalars(actual):
        if condition.number is not None:
            number = parse_number(item)
            if number is not None:
                if number == condition.number:
                    return True
                continue
        if as_text(item).casefold() == condition.text:
            return True
    return False


def _compare(condition: Condition, actual: Any, test: Callable[[Any, Any], bool]) -> bool:
    if condition.number is not None:
        number = parse_number(actual)
        return number is not None and test(number, condition.number)
    moment = parse_moment(actual)
    return moment is not None and condition.moment is not None and test(moment, condition.moment)


def _included(condition: Condition, actual: Any) -> bool:
    for item in _scalars(actual):
        if as_text(item).casefold() in condition.items:
            return True
        number = parse_number(item) if condition.item_numbers else None
        if number is not None and number in condition.item_numbers:
            return True
    return False


def _contains(condition: Condition, actual: Any) -> bool:
    if isinstance(actual, _SEQUENCES):
        return _equals(condition, actual)
    return condition.text in as_text(actual).casefold()


_CHECKS: dict[str, Callable[[Condition, Any], bool]] = {
    "eq": _equals,
    "ne": lambda c, a: not _equals(c, a),
    "blank": lambda c, a: is_blank(a),
    "not_blank": lambda c, a: not is_blank(a),
    "gt": lambda c, a: _compare(c, a, lambda x, y: x > y),
    "gte": lambda c, a: _compare(c, a, lambda x, y: x >= y),
    "lt": lambda c, a: _compare(c, a, lambda x, y: x < y),
    "lte": lambda c, a: _compare(c, a, lambda x, y: x <= y),
    "in": _included,
    "not_in": lambda c, a: not _included(c, a),
    "contains": _contains,
    "not_contains": lambda c, a: not _contains(c, a),
    "true": lambda c, a: parse_bool(a) is True,
    "false": lambda c, a: parse_bool(a) is False,
}

# --- compiled: a rule set as one function of the context ------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]
_NUMBER_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def rules_predicate(ruleset: RuleSet) -> Predicate:
    """rules_evaluate(ruleset, context) as a function built once: the conditions'
    paths, operators and values are bound when it is built, not read per lead."""
    if not ruleset.conditions:
        return lambda context: True
    items = [
        rules_predicate(item) if isinstance(item, RuleSet) else _condition_predicate(item)
        for item in ruleset.conditions
    ]
    if len(items) == 1:
        return items[0]
    if ruleset.match == "all":

        def holds_all(context: Mapping[str, Any]) -> bool:
            for item in items:
                if not item(context):
                    return False
            return True

        return holds_all

    def holds_any(context: Mapping[str, Any]) -> bool:
        for item in items:
            if item(context):
                return True
        return False

    return holds_any


def _condition_predicate(condition: Condition) -> Predicate:
    get, test = context_getter(condition.path), condition_test(condition)
    return lambda context: test(get(context), context)


ConditionTest = Callable[[Any, Mapping[str, Any]], bool]


def condition_test(condition: Condition) -> ConditionTest:
    """condition_holds for one condition as a function built once, of the value at its
    field and the context (which only the format checks read, for the region)."""
    op = condition.operator
    if op in ("valid", "invalid"):
        fmt, wanted = str(condition.value), op == "valid"
        if fmt in ("email", "date"):  # read the same in every region
            return lambda actual, context: is_valid(actual, fmt) is wanted
        return lambda actual, context: is_valid(actual, fmt, region=_region(context)) is wanted
    if op in _NUMBER_TESTS and condition.number is not None:
        test, limit = _NUMBER_TESTS[op], condition.number

        def compare_number(actual: Any, context: Mapping[str, Any]) -> bool:
            number = parse_number(actual)
            return number is not None and test(number, limit)

        return compare_number
    if op == "not_blank":
        return lambda actual, context: not is_blank(actual)
    if op == "true":
        return lambda actual, context: parse_bool(actual) is True
    check = _CHECKS[op]
    return lambda actual, context: check(condition, actual)


__all__ = [
    "EMPTY",
    "OPERATORS",
    "Condition",
    "ConditionTrace",
    "Operator",
    "RuleError",
    "RuleSet",
    "RuleTrace",
    "condition_from_data",
    "condition_holds",
    "condition_test",
    "rules_evaluate",
    "rules_explain",
    "rules_predicate",
    "ruleset_from_data",
    "ruleset_to_data",
]
