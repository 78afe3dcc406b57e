"""A rule set edited as rows — field, operator, value — and groups of rows, instead of
JSON.

The widget posts plain inputs. For a level whose prefix is P (the field's name at the
top, `P__<n>` for the group at position n of level P):

    P__match                          all / any
    P__field_<n>, P__op_<n>, P__value_<n>   the condition at position n
    P__<n>__match, P__<n>__field_0, ...     the group at position n, its own level

Positions order a level's conditions and groups together, as stored.
`value_from_datadict` turns the inputs back into the stored data (`{"match": "all",
"conditions": [..., {"match": "any", "conditions": [...]}]}`), which the model's
validation then checks with integrations.mapping.rules. Blank rows, and groups left
with no condition, are dropped. Every level ends with one blank row, so a condition
can be added without script; in the browser "Add condition" and "Add group" copy the
widget's `<template>`s (studio_assets.html) and × removes a row or a group.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from integrations.mapping.rules import MAX_CONDITIONS, MAX_DEPTH, OPERATORS

# Fields a marketer commonly tests, offered as suggestions (any dotted path is allowed).
SUGGESTED_FIELDS = (
    "lead.score",
    "lead.email",
    "lead.phone_1",
    "lead.state",
    "lead.postal_code",
    "lead.utm_source",
    "lead.utm_campaign",
    "lead.source_name",
    "system.source",
    "system.flow",
)


class RuleRowsWidget(forms.Widget):
    """Renders a rule set's conditions as editable rows, its nested groups as boxes of
    rows with their own all / any."""

    def format_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                value = {}
        if isinstance(value, list):
            value = {"match": "all", "conditions": value}
        return value if isinstance(value, dict) else {}

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        return format_html(
            '<div class="rule-rows" data-name="{}" data-max-depth="{}">{}'
            '<template class="rule-row-template">{}</template>'
            '<template class="rule-group-template">{}</template>'
            '<datalist id="rule-fields">{}</datalist></div>',
            name,
            MAX_DEPTH,
            self._group(name, self.format_value(value), depth=1),
            self._row(None, 0, {}),
            self._group(None, {}, depth=2),
            format_html_join("", '<option value="{}">', ((f,) for f in SUGGESTED_FIELDS)),
        )

    def _group(
        self, prefix: str | None, data: dict[str, Any], *, depth: int, index: int = 0
    ) -> SafeString:
        """One level: its all / any, its items, a blank row, its buttons. Without a
        prefix, the empty group the browser copies (no names: it posts nothing)."""
        conditions = data.get("conditions")
        if not isinstance(conditions, list):
            conditions = []
        items = [c for c in conditions if isinstance(c, dict)]
        rows: list[SafeString] = []
        if prefix is not None:
            for n, item in enumerate(items[:MAX_CONDITIONS]):
                if "conditions" in item:
                    rows.append(self._group(f"{prefix}__{n}", item, depth=depth + 1, index=n))
                else:
                    rows.append(self._row(prefix, n, item))
            rows.append(self._row(prefix, len(rows), {}))
        match = "any" if data.get("match") == "any" else "all"
        match_select = format_html(
            '<select{} class="rule-match" aria-label="all or any">'
            '<option value="all"{}>all</option><option value="any"{}>any</option></select>',
            _name(prefix, "match"),
            " selected" if match == "all" else "",
            " selected" if match == "any" else "",
        )
        if depth == 1:
            head = format_html("When {} of these hold (no rows: always):", match_select)
        else:
            head = format_html(
                '{} of these hold <button type="button" class="button rule-remove-group" '
                'title="Remove this group">× Remove group</button>',
                match_select,
            )
        add_group = (
            mark_safe('<button type="button" class="button rule-add-group">+ Add group</button>')
            if depth < MAX_DEPTH
            else ""
        )
        return format_html(
            '<div class="rule-group{}" data-index="{}"><p class="rule-head">{}</p>'
            '<div class="rule-items">{}</div><p class="rule-buttons">'
            '<button type="button" class="button rule-add">+ Add condition</button>{}</p></div>',
            "" if depth == 1 else " rule-nested",
            index,
            head,
            format_html_join("", "{}", ((row,) for row in rows)),
            add_group,
        )

    def _row(self, prefix: str | None, index: int, condition: dict[str, Any]) -> SafeString:
        operator = str(condition.get("operator") or "")
        value = condition.get("value")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (op.name, " selected" if op.name == operator else "", op.label)
                for op in OPERATORS.values()
            ),
        )
        return format_html(
            '<div class="rule-row" data-index="{i}">'
            '<input type="text"{fn} data-part="field" value="{f}" list="rule-fields" '
            'placeholder="lead.score" class="rule-field" aria-label="field">'
            '<select{on} data-part="op" class="rule-op" aria-label="operator">'
            '<option value="">—</option>{o}</select>'
            '<input type="text"{vn} data-part="value" value="{v}" placeholder="value" '
            'class="rule-value" aria-label="value">'
            '<button type="button" class="button rule-remove" title="Remove">×</button></div>',
            i=index,
            fn=_name(prefix, f"field_{index}"),
            f=condition.get("field") or "",
            on=_name(prefix, f"op_{index}"),
            o=options,
            vn=_name(prefix, f"value_{index}"),
            v="" if value is None else value,
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if f"{name}__match" not in data:
            return data.get(name)  # posted as JSON (an API, or a test)
        ruleset = _level_from_data(data, name, depth=1)
        legacy = _legacy_groups(data.get(f"{name}__groups"))
        if legacy:
            match = "any" if data.get(f"{name}__match") == "any" else "all"
            return {"match": match, "conditions": [*ruleset.get("conditions", []), *legacy]}
        return ruleset

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}__match" not in data and name not in data


def _name(prefix: str | None, part: str) -> SafeString:
    return format_html(' name="{}__{}"', prefix, part) if prefix is not None else SafeString("")


def _legacy_groups(posted: Any) -> list[dict[str, Any]]:
    """Nested groups as a page rendered before they were rows posts them (one hidden
    JSON input), so a page open across an upgrade does not lose them."""
    try:
        groups = json.loads(posted or "[]")
    except (TypeError, ValueError):
        return []
    return [g for g in groups if isinstance(g, dict)] if isinstance(groups, list) else []


def _level_from_data(data: Any, prefix: str, *, depth: int) -> dict[str, Any]:
    """One level's posted inputs as stored data; {} when it holds no condition.

    Groups are read one level deeper than rules allow, so that a too-deep post meets
    the rules' own message rather than vanishing."""
    row_key = re.compile(re.escape(prefix) + r"__field_(\d{1,6})")
    group_key = re.compile(re.escape(prefix) + r"__(\d{1,6})__match")
    positions: set[int] = set()
    for key in data:
        found = row_key.fullmatch(key) or (depth <= MAX_DEPTH and group_key.fullmatch(key))
        if found:
            positions.add(int(found[1]))
    conditions: list[dict[str, Any]] = []
    for n in sorted(positions)[:MAX_CONDITIONS]:
        if depth <= MAX_DEPTH and f"{prefix}__{n}__match" in data:
            group = _level_from_data(data, f"{prefix}__{n}", depth=depth + 1)
            if group:
                conditions.append(group)
            continue
        field = str(data.get(f"{prefix}__field_{n}", "")).strip()
        operator = str(data.get(f"{prefix}__op_{n}", "")).strip()
        value = str(data.get(f"{prefix}__value_{n}", "")).strip()
        if not field and not operator:
            continue  # a blank row
        condition: dict[str, Any] = {"field": field, "operator": operator}
        takes = OPERATORS[operator].takes if operator in OPERATORS else "value"
        if takes != "none":
            condition["value"] = value
        conditions.append(condition)
    if not conditions:
        return {}
    match = "any" if data.get(f"{prefix}__match") == "any" else "all"
    return {"match": match, "conditions": conditions}


class RuleSetField(forms.JSONField):
    """A model JSONField holding a rule set, edited as rows."""

    widget = RuleRowsWidget

    def prepare_value(self, value: Any) -> Any:
        return value  # the widget takes the data itself, not its JSON text

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return value
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        return data if isinstance(data, dict | list) else super().bound_data(data, initial)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or {}) != (data or {})
