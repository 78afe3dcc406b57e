"""A rule set edited as rows — field, operator, value — instead of JSON.

The widget posts plain inputs (`<name>__match`, `<name>__field_<n>`, `<name>__op_<n>`,
`<name>__value_<n>`); `value_from_datadict` turns them back into the stored data
(`{"match": "all", "conditions": [...]}`), which the model's validation then checks
with integrations.mapping.rules. Nested groups (which rows cannot show) are kept as
they were. "Add condition" clones a row in the browser; without script, two blank rows
are always there.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from integrations.mapping.rules import OPERATORS

BLANK_ROWS = 1
MAX_ROWS = 50
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
    """Renders a rule set's top-level conditions as editable rows."""

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
        data = self.format_value(value)
        conditions = [c for c in data.get("conditions") or [] if isinstance(c, dict)]
        rows = [c for c in conditions if "conditions" not in c]
        groups = [c for c in conditions if "conditions" in c]
        match = "any" if data.get("match") == "any" else "all"
        body = format_html_join(
            "",
            "{}",
            (
                (self._row(name, n, c),)
                for n, c in enumerate([*rows, *([{}] * BLANK_ROWS)][:MAX_ROWS])
            ),
        )
        kept = (
            format_html(
                '<input type="hidden" name="{}__groups" value="{}">'
                '<p class="help">Also: {} nested group(s), kept as they are.</p>',
                name,
                json.dumps(groups),
                len(groups),
            )
            if groups
            else ""
        )
        match_select = format_html(
            '<select name="{}__match" class="rule-match">'
            '<option value="all"{}>all</option><option value="any"{}>any</option></select>',
            name,
            " selected" if match == "all" else "",
            " selected" if match == "any" else "",
        )
        return format_html(
            '<div class="rule-rows" data-name="{}">'
            '<p class="rule-head">When {} of these hold (no rows: always):</p>'
            '<table class="rule-table"><tbody>{}</tbody></table>'
            '<button type="button" class="button rule-add">+ Add condition</button>{}'
            '<datalist id="rule-fields">{}</datalist></div>',
            name,
            match_select,
            body,
            kept,
            format_html_join("", '<option value="{}">', ((f,) for f in SUGGESTED_FIELDS)),
        )

    def _row(self, name: str, index: int, condition: dict[str, Any]) -> SafeString:
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
            '<tr class="rule-row">'
            '<td><input type="text" name="{n}__field_{i}" value="{f}" list="rule-fields" '
            'placeholder="lead.score" class="rule-field"></td>'
            '<td><select name="{n}__op_{i}" class="rule-op"><option value="">—</option>'
            "{o}</select></td>"
            '<td><input type="text" name="{n}__value_{i}" value="{v}" placeholder="value" '
            'class="rule-value"></td>'
            '<td><button type="button" class="button rule-remove" title="Remove">×</button>'
            "</td></tr>",
            n=name,
            i=index,
            f=condition.get("field") or "",
            o=options,
            v="" if value is None else value,
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if f"{name}__match" not in data:
            return data.get(name)  # posted as JSON (an API, or a test)
        conditions: list[dict[str, Any]] = []
        indexes = sorted(
            {
                int(key.rpartition("_")[2])
                for key in data
                if key.startswith(f"{name}__field_") and key.rpartition("_")[2].isdigit()
            }
        )
        for index in indexes[:MAX_ROWS]:
            field = str(data.get(f"{name}__field_{index}", "")).strip()
            operator = str(data.get(f"{name}__op_{index}", "")).strip()
            value = str(data.get(f"{name}__value_{index}", "")).strip()
            if not field and not operator:
                continue  # a blank row
            condition: dict[str, Any] = {"field": field, "operator": operator}
            takes = OPERATORS[operator].takes if operator in OPERATORS else "value"
            if takes != "none":
                condition["value"] = value
            conditions.append(condition)
        try:
            groups = json.loads(data.get(f"{name}__groups") or "[]")
        except ValueError:
            groups = []
        conditions += [g for g in groups if isinstance(g, dict)]
        if not conditions:
            return {}
        match = "any" if data.get(f"{name}__match") == "any" else "all"
        return {"match": match, "conditions": conditions}

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}__match" not in data and name not in data


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
