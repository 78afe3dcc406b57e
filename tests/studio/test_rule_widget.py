"""Rules edited as rows: what the widget renders posts back as the same stored rule set,
nested groups included, with or without script."""

from __future__ import annotations

import re

import pytest

from integrations.admin.rule_widget import RuleRowsWidget
from integrations.mapping.rules import MAX_DEPTH, RuleError, ruleset_from_data
from tests.factories import form_inputs

SCORE = {"field": "lead.score", "operator": "gte", "value": "80"}
TX = {"field": "lead.state", "operator": "eq", "value": "TX"}
CA = {"field": "lead.state", "operator": "eq", "value": "CA"}
HAS_EMAIL = {"field": "lead.email", "operator": "not_blank"}


def posted_back(value, name: str = "rules"):
    """Render the widget, post its inputs unchanged, read them back."""
    widget = RuleRowsWidget()
    html = widget.render(name, value)
    return widget.value_from_datadict(form_inputs(html), {}, name)


@pytest.mark.parametrize(
    "rules",
    [
        {"match": "all", "conditions": [SCORE]},
        {"match": "any", "conditions": [SCORE, HAS_EMAIL]},
        {"match": "all", "conditions": [SCORE, {"match": "any", "conditions": [TX, CA]}]},
        {  # groups between conditions, and a group inside a group
            "match": "any",
            "conditions": [
                {"match": "all", "conditions": [TX, {"match": "any", "conditions": [CA]}]},
                SCORE,
                {"match": "all", "conditions": [HAS_EMAIL]},
            ],
        },
    ],
    ids=["one-row", "any-rows", "score-and-state-group", "groups-in-order-and-nested"],
)
def test_rendered_rows_and_groups_post_back_as_the_stored_rules(rules):
    assert posted_back(rules) == rules


def test_groups_nest_as_deep_as_rules_allow_and_no_deeper_in_the_editor():
    rules = {"match": "all", "conditions": [SCORE]}
    for _ in range(MAX_DEPTH - 1):
        rules = {"match": "any", "conditions": [TX, rules]}
    assert ruleset_from_data(rules)  # as deep as rules.py allows
    html = RuleRowsWidget().render("rules", rules)
    assert posted_back(rules) == rules
    # "Add group" in every level but the deepest (and in the group template copied
    # into a second level).
    assert html.count("rule-add-group") == (MAX_DEPTH - 1) + 1


def test_a_group_posted_one_level_too_deep_reaches_the_rules_message():
    prefix = "rules" + "__0" * MAX_DEPTH
    data = {}
    for level in range(MAX_DEPTH + 1):
        data[f"rules{'__0' * level}__match"] = "all"
    data.update({f"{prefix}__field_0": "lead.score", f"{prefix}__op_0": "blank"})
    value = RuleRowsWidget().value_from_datadict(data, {}, "rules")
    with pytest.raises(RuleError, match=f"groups nest at most {MAX_DEPTH} deep"):
        ruleset_from_data(value)


def test_a_group_the_browser_adds_is_read_from_its_prefixed_names():
    data = {
        "rules__match": "all",
        "rules__field_0": "lead.score",
        "rules__op_0": "gte",
        "rules__value_0": "80",
        "rules__field_1": "",  # the blank row every level ends with
        "rules__op_1": "",
        "rules__value_1": "",
        "rules__2__match": "any",  # "Add group": the next position after the blank row
        "rules__2__field_0": " lead.state ",
        "rules__2__op_0": "eq",
        "rules__2__value_0": "TX",
        "rules__2__field_1": "lead.state",
        "rules__2__op_1": "eq",
        "rules__2__value_1": "CA",
    }
    assert RuleRowsWidget().value_from_datadict(data, {}, "rules") == {
        "match": "all",
        "conditions": [SCORE, {"match": "any", "conditions": [TX, CA]}],
    }


def test_blank_rows_and_emptied_groups_are_dropped():
    data = {
        "rules__match": "any",
        "rules__0__match": "all",  # a group whose rows were emptied (no script)
        "rules__0__field_0": "",
        "rules__0__op_0": "",
        "rules__0__value_0": "ignored without field and operator",
        "rules__field_1": "",
        "rules__op_1": "",
    }
    assert RuleRowsWidget().value_from_datadict(data, {}, "rules") == {}
    data.update({"rules__field_2": "lead.email", "rules__op_2": "not_blank"})
    assert RuleRowsWidget().value_from_datadict(data, {}, "rules") == {
        "match": "any",
        "conditions": [HAS_EMAIL],
    }


def test_the_templates_the_browser_copies_post_nothing():
    html = RuleRowsWidget().render("rules", {"match": "all", "conditions": [SCORE]})
    templates = re.findall(r"<template[^>]*>(.*?)</template>", html, flags=re.S)
    assert len(templates) == 2  # a row, a group
    for template in templates:
        assert "data-part=" in template or "rule-match" in template
        assert "name=" not in template


def test_groups_a_page_posted_as_json_before_they_were_rows_are_kept():
    group = {"match": "any", "conditions": [TX, CA]}
    data = {
        "rules__match": "all",
        "rules__field_0": "lead.score",
        "rules__op_0": "gte",
        "rules__value_0": "80",
        "rules__groups": '[{"match": "any", "conditions": ['
        '{"field": "lead.state", "operator": "eq", "value": "TX"}, '
        '{"field": "lead.state", "operator": "eq", "value": "CA"}]}]',
    }
    assert RuleRowsWidget().value_from_datadict(data, {}, "rules") == {
        "match": "all",
        "conditions": [SCORE, group],
    }


def test_json_posted_without_rows_is_passed_through():
    assert RuleRowsWidget().value_from_datadict({"rules": '{"match": "all"}'}, {}, "rules") == (
        '{"match": "all"}'
    )
