"""Liquid templates as the seeds write them: bounded, safe, checked at save time."""

from __future__ import annotations

import pytest

from integrations.mapping.context import StepResult, SystemFields, lead_context
from integrations.mapping.templates import (
    MAX_LOOP_ITERATIONS,
    MAX_OUTPUT_CHARS,
    TemplateError,
    template_check,
    template_compile,
)

CATALOGUE = {
    "lead_sources": [{"id": 9, "name": "Google Ads"}, {"id": 10, "name": "Facebook"}],
    "tags": [{"id": 103, "name": "Hot Lead"}],
    "users": [{"id": "u1", "name": "Sam Agent"}],
    "contact_types": ["Lead", "Customer"],
}


def render(source: str, lead: dict | None = None, *, steps=None, catalogue=None) -> str:
    context = lead_context(
        fields=lead or {},
        system=SystemFields(lead_id="L1", flow="Web", source="Vendor"),
        steps=steps or {},
    )
    context["system"]["now"] = "2024-06-01T10:00:00+00:00"
    return template_compile(source).render(context, catalogue=catalogue or CATALOGUE)


@pytest.mark.parametrize(
    "source, lead, expected",
    [
        ("{{ lead.utm_campaign }}", {"utm_campaign": "spring"}, "spring"),
        ("Lead Path: {{ lead.touchpoints | join: ' > ' }}", {"touchpoints": ["ad", "form"]},
         "Lead Path: ad > form"),
        ("{% if lead.score >= 80 %}103{% endif %}", {"score": "85"}, "103"),  # a string score
        ("{% if lead.score >= 80 %}103{% endif %}", {"score": "50"}, ""),
        ("{% if lead.score == 85 %}yes{% endif %}", {"score": "85"}, "yes"),
        ("{% if lead.zip == '01234' %}kept{% endif %} {{ lead.zip }}", {"zip": "01234"},
         "kept 01234"),  # numeric-looking text is still text
        ("{{ lead.score | plus: 1 }}", {"score": "85"}, "86"),
        ("{{first_name}} {{last_name}}", {"first_name": "Ann", "last_name": "Lee"}, "Ann Lee"),
        ("{{ lead.utm.source | upcase }}", {"utm": {"source": "g"}}, "G"),
        ("{{ lead.missing }}", {}, ""),
    ],
)  # fmt: skip
def test_the_seeds_template_syntax(source, lead, expected):
    assert render(source, lead) == expected


def test_system_fields_and_now():
    assert render("{{ system.lead_id }} {{ system.flow }} {{ system.source }}") == "L1 Web Vendor"
    assert render("{{ now }}") == "2024-06-01T10:00:00+00:00"
    assert render("{{ now | date: '%Y-%m-%d' }}") == "2024-06-01"


def test_earlier_steps_results_as_the_seeds_name_them():
    source = "{% if keap.duplicate %}Welcome back{% else %}Welcome{% endif %}"
    assert render(source, steps={"keap": StepResult("success", "5", True)}) == "Welcome back"
    assert render(source, steps={"keap": StepResult("success", "5", False)}) == "Welcome"


@pytest.mark.parametrize(
    "source, lead, expected",
    [
        ("{{ lead.source_name | source_lookup }}", {"source_name": " google ads "}, "9"),
        ("{{ 'Hot Lead' | tag_lookup }}", {}, "103"),
        ("{{ 'sam agent' | owner_lookup }}", {}, "u1"),  # HighLevel calls them users
        ("{{ 'customer' | lookup: 'contact_types' }}", {}, "Customer"),
        ("{{ lead.source_name | source_lookup }}", {"source_name": "10"}, "10"),  # an id
        ("{{ lead.nothing | source_lookup }}", {}, ""),
    ],
)
def test_lookup_filters_turn_a_name_into_the_accounts_id(source, lead, expected):
    assert render(source, lead) == expected


def test_a_lookup_that_finds_nothing_says_what_it_looked_for():
    with pytest.raises(TemplateError) as failed:
        render("{{ lead.s | source_lookup }}", {"s": "Bing"})
    assert "no lead source named 'Bing' in the account's catalogue" in failed.value.message
    with pytest.raises(TemplateError, match="catalogue has no workflows: refresh"):
        render("{{ 'x' | workflow_lookup }}")


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ lead.x | nosuch }}", "unknown filter 'nosuch' (line 1, column 13)"),
        ("Hi\n{{ lead. }}", "line 2"),
        ("a\n{% if lead.x %}b", "expected tag endif"),
        ("{% if lead.x %}b", "(line 1, column 17)"),  # unclosed: points at the end
        ("{{ 'a' | ", "line 1"),
        ("x" * 2001, "at most 2000 characters"),
    ],
)
def test_save_time_check_reports_errors_with_their_position(source, message):
    [problem] = template_check(source)
    assert message in problem


def test_a_valid_template_has_no_problems_and_is_compiled_once():
    assert template_check("{{ lead.a | join: ', ' }}") == []
    assert template_compile("{{ lead.a }}!") is template_compile("{{ lead.a }}!")


@pytest.mark.parametrize(
    "source",
    [
        "{{ lead.__class__ }}",
        "{{ lead.__class__.__init__.__globals__ }}",
        "{{ system.__dict__ }}",
        "{{ now.__class__.__mro__ }}",
        "{{ lead.first_name.__class__ }}",
        "{{ catalogue.__class__ }}",
        "{{ lead['__class__'] }}",
    ],
)
def test_no_template_reaches_python_internals(source):
    assert render(source, {"first_name": "Ann"}) == ""


def test_loops_and_output_are_bounded():
    with pytest.raises(TemplateError, match="loop iteration limit"):
        render(f"{{% for i in (1..{MAX_LOOP_ITERATIONS + 1}) %}}{{% endfor %}}")
    with pytest.raises(TemplateError, match="loop iteration limit"):
        render("{% for i in (1..100) %}{% for j in (1..100) %}{% endfor %}{% endfor %}")
    with pytest.raises(TemplateError, match="output stream limit"):
        render("{% for i in (1..900) %}" + "x" * 40 + "{% endfor %}")
    assert len(render("{% for i in (1..100) %}xy{% endfor %}")) == 200 < MAX_OUTPUT_CHARS
