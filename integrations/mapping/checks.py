"""Save-time checks of one mapping, for the admin form and the studio's editor.

Each returns a list of messages for the marketer (empty: fine). The same rules apply
again when a lead is mapped; these catch mistakes before a lead meets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .custom_fields import custom_mapping_check
from .rules import RuleError, ruleset_from_data
from .step_config import target_slot
from .templates import template_check

VALUE_KINDS = ("field", "constant", "template")


def mapping_problems(
    *,
    kind: str,
    source: str,
    target: str,
    rules: object = None,
    catalogue: Mapping[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Problems by form field ("source", "target", "rules")."""
    problems: dict[str, list[str]] = {}
    if kind not in VALUE_KINDS:
        problems["value_kind"] = [f"Choose one of: {', '.join(VALUE_KINDS)}."]
    if not source.strip() and kind != "constant":
        problems["source"] = ["Choose a lead field or write a template."]
    elif kind == "template":
        found = template_check(source)
        if found:
            problems["source"] = found
    if not target.strip():
        problems["target"] = ["Choose where the value goes."]
    elif target_slot(target)[0] == "custom":
        found = custom_mapping_check(
            target=target,
            constant=source if kind == "constant" else None,
            catalogue=catalogue or {},
        )
        if found:
            problems["target" if "catalogue" in found[0] else "source"] = found
    try:
        ruleset_from_data(rules)
    except RuleError as exc:
        problems["rules"] = [exc.message]
    return problems
