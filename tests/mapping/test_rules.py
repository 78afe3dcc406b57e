"""Rules: every operator as a marketer reads it, stored as data, validated on load."""

from __future__ import annotations

from datetime import datetime

import pytest

from integrations.mapping.context import StepResult, SystemFields, lead_context
from integrations.mapping.rules import (
    OPERATORS,
    RuleError,
    RuleSet,
    rules_evaluate,
    rules_explain,
    ruleset_from_data,
    ruleset_to_data,
)


def holds(operator: str, actual, value=None, **extra_lead) -> bool:
    condition = {"field": "lead.x", "operator": operator}
    if value is not None:
        condition["value"] = value
    context = lead_context(
        fields={"x": actual, **extra_lead} if actual is not None else extra_lead,
        system=SystemFields(),
        steps={},
    )
    return rules_evaluate(ruleset_from_data({"conditions": [condition]}), context)


@pytest.mark.parametrize(
    "actual, value, expected",
    [
        ("Web", "web", True),  # case does not matter
        ("  web ", "web", True),  # nor surrounding spaces
        ("80", "80.0", True),  # numbers compare as numbers
        (80, "80", True),
        ("web", "email", False),
        (None, "web", False),
        (True, "true", True),
        (["a", "B"], "b", True),  # a list matches when an item does
    ],
)
def test_eq_and_ne(actual, value, expected):
    assert holds("eq", actual, value) is expected
    assert holds("ne", actual, value) is (not expected)


@pytest.mark.parametrize(
    "actual, blank", [(None, True), ("", True), ("   ", True), ([], True), ({}, True), (0, False)]
)
def test_blank_and_not_blank(actual, blank):
    context = lead_context(fields={"x": actual}, system=SystemFields(), steps={})
    for operator, expected in (("blank", blank), ("not_blank", not blank)):
        rules = ruleset_from_data({"conditions": [{"field": "lead.x", "operator": operator}]})
        assert rules_evaluate(rules, context) is expected


def test_a_missing_field_is_blank():
    assert holds("blank", None) is True
    assert holds("not_blank", None) is False


@pytest.mark.parametrize(
    "operator, actual, value, expected",
    [
        ("gt", "85", "80", True),
        ("gt", "80", "80", False),
        ("gte", "80", "80", True),
        ("lt", "9", "10", True),  # as numbers, not as text ("9" > "10" as text)
        ("lte", 10, "10", True),
        ("gt", "1,200", "999", True),
        ("gt", "$12.50", "12", True),
        ("gt", "high", "80", False),  # not a number: never greater, never less
        ("lt", "high", "80", False),
        ("gt", None, "80", False),
        ("gt", True, "0", False),  # a boolean is not a number
    ],
)
def test_number_comparisons_read_numbers_given_as_strings(operator, actual, value, expected):
    assert holds(operator, actual, value) is expected


@pytest.mark.parametrize(
    "operator, actual, value, expected",
    [
        ("lt", "09/25/1990", "2000-01-01", True),
        ("gt", "1990-09-25", "1990/09/24", True),
        ("gte", "1990.09.25", "09-25-1990", True),
        ("lt", "2024-06-01T10:00:00Z", "2024-06-01T11:00:00+00:00", True),
        ("gt", "2024-06-01T10:00:00+02:00", "2024-06-01T09:00:00Z", False),
        ("lt", "25 Sep 1990", "1991-01-01", True),
        ("lt", "not a date", "2000-01-01", False),
    ],
)
def test_date_comparisons_read_common_formats(operator, actual, value, expected):
    assert holds(operator, actual, value) is expected


def test_system_dates_compare_as_dates():
    rules = ruleset_from_data(
        {"conditions": [{"field": "system.received_at", "operator": "lt", "value": "2025-01-01"}]}
    )
    system = SystemFields(received_at=datetime.fromisoformat("2024-12-31T23:00:00+00:00"))
    assert rules_evaluate(rules, lead_context(fields={}, system=system, steps={}))


@pytest.mark.parametrize(
    "actual, value, expected",
    [
        ("TX", ["tx", "ca"], True),
        ("TX", "CA, TX ,NY", True),  # a comma-separated string
        ("WA", "CA,TX", False),
        ("3", [1, 2, 3], True),
        ("3.0", "1,2,3", True),
        (["web", "ppc"], "ppc,seo", True),
        (None, "a,b", False),
    ],
)
def test_in_and_not_in(actual, value, expected):
    assert holds("in", actual, value) is expected
    assert holds("not_in", actual, value) is (not expected)


@pytest.mark.parametrize(
    "actual, value, expected",
    [
        ("Spring Sale 2024", "sale", True),
        ("Spring", "sale", False),
        (["google", "facebook"], "Facebook", True),
        (["google", "facebook"], "face", False),  # list items match whole
        (None, "x", False),
        (1234, "23", True),
    ],
)
def test_contains_and_not_contains(actual, value, expected):
    assert holds("contains", actual, value) is expected
    assert holds("not_contains", actual, value) is (not expected)


@pytest.mark.parametrize(
    "fmt, good, bad",
    [
        ("email", "ann@example.com", "ann@"),
        ("phone", "(602) 555-0101", "555"),
        ("date", "09/25/1990", "31/31/1990"),
        ("postal_code", "85001-1234", "8500"),
    ],
)
def test_valid_and_invalid_formats(fmt, good, bad):
    assert holds("valid", good, fmt) and not holds("invalid", good, fmt)
    assert holds("invalid", bad, fmt) and not holds("valid", bad, fmt)
    assert holds("invalid", None, fmt)  # blank is never a valid anything


def test_postal_codes_and_phones_are_checked_for_the_leads_country():
    assert holds("valid", "K1A 0B1", "postal_code", country="Canada")
    assert not holds("valid", "K1A 0B1", "postal_code")
    assert holds("valid", "020 7946 0958", "phone", country="GB")
    assert not holds("valid", "020 7946 0958", "phone")


@pytest.mark.parametrize(
    "actual, true",
    [(True, True), ("yes", True), ("1", True), ("On", True), (False, False), ("no", False)],
)
def test_true_and_false(actual, true):
    assert holds("true", actual) is true
    assert holds("false", actual) is (not true)


def test_blank_is_neither_true_nor_false():
    assert not holds("true", None) and not holds("false", None)
    assert not holds("true", "maybe") and not holds("false", "maybe")


def test_every_operator_is_covered_here():
    covered = {
        "eq", "ne", "blank", "not_blank", "gt", "gte", "lt", "lte", "in", "not_in",
        "contains", "not_contains", "valid", "invalid", "true", "false",
    }  # fmt: skip
    assert set(OPERATORS) == covered


# --- groups and the context ---------------------------------------------------------


def test_an_empty_rule_set_always_matches():
    for data in ({}, [], None, {"match": "any", "conditions": []}):
        assert rules_evaluate(ruleset_from_data(data), {}) is True


def test_all_and_any_with_nested_groups():
    rules = ruleset_from_data(
        {
            "match": "all",
            "conditions": [
                {"field": "lead.score", "operator": "gte", "value": "80"},
                {
                    "match": "any",
                    "conditions": [
                        {"field": "lead.state", "operator": "eq", "value": "TX"},
                        {"field": "lead.state", "operator": "eq", "value": "CA"},
                    ],
                },
            ],
        }
    )

    def ctx(score, state):
        return lead_context(
            fields={"score": score, "state": state}, system=SystemFields(), steps={}
        )

    assert rules_evaluate(rules, ctx("90", "ca"))
    assert not rules_evaluate(rules, ctx("90", "WA"))
    assert not rules_evaluate(rules, ctx("70", "TX"))


def test_an_earlier_steps_outcome_is_read_as_the_seeds_write_it():
    # seeds: `keap.outcome is not success`
    rules = ruleset_from_data(
        {"conditions": [{"field": "keap.outcome", "operator": "ne", "value": "success"}]}
    )
    failed = lead_context(fields={}, system=SystemFields(), steps={"keap": StepResult("failure")})
    ok = lead_context(fields={}, system=SystemFields(), steps={"keap": StepResult("success")})
    assert rules_evaluate(rules, failed) and not rules_evaluate(rules, ok)


def test_nested_lead_fields_and_list_items_are_reached_by_path():
    context = lead_context(
        fields={"utm": {"source": "google"}, "touchpoints": ["ad", "form"], "a.b": "dotted"},
        system=SystemFields(),
        steps={},
    )
    for field, value in (("lead.utm.source", "google"), ("lead.touchpoints.1", "form")):
        rules = ruleset_from_data(
            {"conditions": [{"field": field, "operator": "eq", "value": value}]}
        )
        assert rules_evaluate(rules, context)
    dotted = ruleset_from_data(
        {"conditions": [{"field": "lead.a.b", "operator": "eq", "value": "dotted"}]}
    )
    assert rules_evaluate(dotted, context)


def test_explain_reports_every_condition_without_short_circuit():
    rules = ruleset_from_data(
        {
            "match": "all",
            "conditions": [
                {"field": "lead.score", "operator": "gte", "value": "80"},
                {"field": "lead.email", "operator": "valid", "value": "email"},
            ],
        }
    )
    trace = rules_explain(
        rules, lead_context(fields={"score": "50"}, system=SystemFields(), steps={})
    )
    assert trace.matched is False
    assert [(c.field, c.actual, c.matched) for c in trace.items] == [
        ("lead.score", "50", False),
        ("lead.email", None, False),
    ]
    assert "lead.score is greater than or equal to '80' (is '50'): no" in trace.describe()[1]


def test_stored_data_round_trips():
    data = {
        "match": "any",
        "conditions": [
            {"field": "lead.score", "operator": "gte", "value": "80"},
            {"field": "lead.email", "operator": "blank"},
            {"match": "all", "conditions": [{"field": "lead.x", "operator": "in", "value": ["a"]}]},
        ],
    }
    assert ruleset_to_data(ruleset_from_data(data)) == data
    assert ruleset_to_data(RuleSet()) == {}


def test_evaluation_never_raises_on_odd_context_values():
    rules = ruleset_from_data(
        {"conditions": [{"field": "lead.x", "operator": op, "value": v} for op, v in (
            ("gt", "1"), ("lt", "2020-01-01"), ("in", "a,b"), ("contains", "a"),
            ("valid", "phone"), ("true", None), ("eq", "1"))]}
    )  # fmt: skip
    for odd in (None, {"a": 1}, [[1]], float("nan"), float("inf"), 10**400, "\x00", b"x", object()):
        rules_evaluate(rules, {"lead": {"x": odd}})
    rules_evaluate(rules, {"lead": "not a dict"})
    rules_evaluate(rules, {})


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        ("score > 80", "The rule set must be an object with conditions."),
        ({"match": "most", "conditions": []}, "match must be 'all' or 'any'"),
        ({"conditions": {"field": "lead.x"}}, "conditions must be a list"),
        ({"conditions": [{"operator": "eq", "value": "1"}]}, "Condition 1: choose a field."),
        (
            {"conditions": [{"field": "lead.x", "operator": "like", "value": "1"}]},
            "Condition 1: unknown operator 'like'",
        ),
        (
            {"conditions": [{"field": "lead.x", "operator": "eq"}]},
            "Condition 1: 'is equal to' needs a value (use 'is blank' for an empty field).",
        ),
        (
            {"conditions": [{"field": "lead.x", "operator": "gt", "value": "lots"}]},
            "Condition 1: 'is greater than' needs a number or a date, not 'lots'.",
        ),
        (
            {"conditions": [{"field": "lead.x", "operator": "in", "value": " , "}]},
            "needs a list of values",
        ),
        (
            {"conditions": [{"field": "lead.x", "operator": "valid", "value": "url"}]},
            "needs a format: one of email, phone, date, postal_code",
        ),
        (
            {"conditions": [{"field": "lead x", "operator": "blank"}]},
            "is not a field path",
        ),
        (
            {
                "conditions": [
                    {"field": "lead.a", "operator": "blank"},
                    {"match": "any", "conditions": [{"field": "lead.b", "operator": "zz"}]},
                ]
            },
            "Condition 2, condition 1: unknown operator 'zz'",
        ),
        (
            {"conditions": [{"field": "lead.x", "operator": "eq", "value": "1", "extra": 1}]},
            "Condition 1: unknown key 'extra'.",
        ),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(data, message):
    with pytest.raises(RuleError) as refused:
        ruleset_from_data(data)
    assert message in refused.value.message


def test_nesting_and_size_are_bounded():
    deep: dict = {"field": "lead.x", "operator": "blank"}
    for _ in range(8):
        deep = {"match": "all", "conditions": [deep]}
    with pytest.raises(RuleError, match="nest at most"):
        ruleset_from_data(deep)
    many = {"conditions": [{"field": "lead.x", "operator": "blank"}] * 101}
    with pytest.raises(RuleError, match="at most 100 conditions"):
        ruleset_from_data(many)
