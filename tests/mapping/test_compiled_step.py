"""The compiled mapper (step_compiled) gives what the interpreted one (the readable
specification, tests/mapping/reference_mapper.py) gives: for hypothesis leads through
configurations that use every value kind, target slot, on-invalid policy, rule operator
and action, and for the benchmark's step; explained previews too."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.mapping import _config as bench_config
from bench.mapping import _leads as bench_leads
from integrations.mapping import step_compiled
from integrations.mapping.context import StepResult, SystemFields, lead_context
from integrations.mapping.step_compiled import step_mapper
from integrations.mapping.step_config import action_config, mapping_config, step_config
from integrations.mapping.step_map import step_map
from tests.mapping.reference_mapper import step_map_interpreted
from tests.mapping.test_properties import CATALOGUE, highlevel_config, keap_config, leads

NOW = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)  # `now` from the system, not the clock
HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}


def rule(field: str, operator: str, value: object = None) -> dict:
    return {"conditions": [{"field": field, "operator": operator, "value": value}]}


def every_kind_config(policy: str):
    """Each slot kind, value kind, gate and action kind once, plus what can go wrong."""
    mappings = [
        mapping_config(kind="field", source="phone_3", target="phones", on_invalid=policy),
        mapping_config(kind="field", source="lead.utm.source", target="job_title"),
        mapping_config(kind="field", source="title", target="notes", on_existing="keep"),
        mapping_config(kind="field", source="dob", target="custom:10", on_invalid=policy),
        mapping_config(kind="field", source="source", target="custom:13", on_invalid=policy),
        mapping_config(kind="field", source="score", target="custom:hl1", on_invalid=policy),
        mapping_config(kind="field", source="tags", target="custom:99"),  # not in catalogue
        mapping_config(kind="field", source="system.lead_id", target="lead_ref"),  # extra
        mapping_config(kind="constant", source="Lead", target="contact_type",
                       rules=rule("lead.country", "in", "US,CA"), on_existing="keep"),
        mapping_config(kind="constant", source="yes", target="custom:12",
                       rules={"match": "any", "conditions": [
                           rule("lead.score", "lt", "10"), rule("keap.outcome", "eq", "success"),
                           rule("lead.received", "gt", "2024-01-01")]}),
        mapping_config(kind="template", source="{{ lead.first_name | upcase }}",
                       target="first_name", on_invalid=policy),
        mapping_config(kind="template", source="{{ lead.source | source_lookup }}",
                       target="lead_source_id", on_invalid=policy,
                       rules=rule("lead.email", "valid", "email")),
        mapping_config(kind="template", source="{% for t in lead.tags %}{{ t }},{% endfor %}",
                       target="custom:8", on_invalid=policy),
        mapping_config(kind="template", source="{{ lead.tags | size }} {{ now }}",
                       target="extra_note"),  # not compiled: Liquid renders it
        mapping_config(kind="template", source="{% if %}", target="custom:7",
                       on_invalid=policy),  # does not compile: reported on every lead
        mapping_config(kind="field", source="phone_2", target="phone_1", on_invalid=policy,
                       rules=rule("lead.phone_2", "valid", "phone")),
        mapping_config(kind="field", source="email", target="email", on_invalid=policy,
                       rules=rule("lead.email", "invalid", "email")),
    ]  # fmt: skip
    actions = [
        action_config(kind="tag", item_id="103", rules=HOT),
        action_config(kind="tag", item_id="104", action="remove", rules=rule("lead.x", "blank")),
        action_config(kind="tag", item_id="", rules=HOT),  # no id: never in the plan
        action_config(kind="tag", item_id="105", rules={"match": "nope"}),  # does not load
        action_config(kind="keap_sequence", item_id="45", sequence_id="1",
                      rules=rule("lead.tags", "contains", "ad")),
        action_config(kind="followup_sequence", item_id="7",
                      rules=rule("lead.dob", "valid", "date")),
        action_config(kind="followup_sequence", item_id="8", action="pause"),
        action_config(kind="action_set", item_id="9", rules=rule("lead.score", "true")),
        action_config(kind="highlevel_workflow", item_id="w1",
                      rules=rule("lead.source", "not_in", "Facebook, Referral")),
        action_config(kind="highlevel_campaign", item_id="c1",
                      rules=rule("lead.state", "ne", "TX")),
    ]  # fmt: skip
    return step_config(
        name="Every kind",
        recipient="keap_rest",
        mappings=mappings,
        actions=actions,
        catalogue=CATALOGUE,
        criteria=rule("lead.blocked", "blank"),
        standard_off=["middle_name", "suffix"],
        options={"keep": 1},
    )


def context_for(lead: dict) -> dict:
    return lead_context(
        fields=lead,
        system=SystemFields(lead_id="L1", flow="Web", source="Vendor", now=NOW),
        steps={"keap": StepResult("success", "5", True)},
    )


def assert_same(config, lead: dict) -> None:
    context = context_for(lead)
    assert step_map(config=config, context=context) == step_map_interpreted(
        config=config, context=context
    )
    assert step_map(config=config, context=context, explain=True) == step_map_interpreted(
        config=config, context=context, explain=True
    )


policies = st.sampled_from(["send", "drop", "skip"])


@given(lead=leads, policy=policies)
def test_the_compiled_mapper_maps_as_the_interpreted_one(lead, policy):
    for config in (keap_config(policy), highlevel_config(policy), every_kind_config(policy)):
        assert_same(config, lead)


@given(
    lead=st.fixed_dictionaries(
        {},
        optional={
            "score": st.sampled_from(["85", "12", 90, 5.0, "x", True, None, ""]),
            "first_name": st.sampled_from(["Ann", " ", "", None, ["a"]]),
            "full_name": st.sampled_from(["Dr. Ann Q. Lee Jr.", "Lee, Ann", "Cher"]),
            "email": st.sampled_from(["ann@example.com", "ANN@EX.COM", "nope", "", "é@x.fr"]),
            "phone_1": st.sampled_from(["(602) 555-0101", "+1 416 555 0199", "555", ""]),
            "phone_2": st.sampled_from(["602.555.0102", "+44 20 7946 0958", "12"]),
            "phone_3": st.sampled_from(["(876) 555-0101", "not a phone"]),
            "dob": st.sampled_from(["1990-09-25", "09/25/1990", "25 Sep 1990", "02/30/1990", "x"]),
            "state": st.sampled_from(["TX", "Texas", "Ontario", "Atlantis", ""]),
            "country": st.sampled_from(["US", "Canada", "GB", "Atlantis"]),
            "postal_code": st.sampled_from(["85001", "85001-1234", "k1a0b1", "ABC", ""]),
            "source": st.sampled_from(["Google Ads", "google ads ", "3", "Nowhere", "Gold"]),
            "tags": st.lists(st.sampled_from(["ad", "form", "call", 1, None]), max_size=4),
            "utm": st.sampled_from([{"source": "g"}, {}, "flat"]),
            "title": st.sampled_from(["CEO", ""]),
            "received": st.sampled_from(["2024-06-01T10:00:00Z", "2023-01-01", "soon"]),
        },
    ),
    policy=policies,
)
def test_the_compiled_mapper_agrees_on_the_values_leads_really_send(lead, policy):
    for config in (keap_config(policy), highlevel_config(policy), every_kind_config(policy)):
        assert_same(config, lead)


def test_the_benchmark_step_maps_as_the_interpreted_one():
    config = bench_config()
    for lead in bench_leads(300):
        assert_same(config, lead)


def test_memoised_results_are_the_results(monkeypatch):
    """Templates and custom field checks remembered by their inputs give what
    rendering and checking again give, for repeated and new values alike."""
    leads_ = bench_leads(200) * 2
    remembered = bench_config()
    results = [step_map(config=remembered, context=context_for(lead)) for lead in leads_]
    monkeypatch.setattr(step_compiled, "MEMO_ENTRIES", 0)
    fresh = bench_config()
    assert results == [step_map(config=fresh, context=context_for(lead)) for lead in leads_]


def test_a_step_is_compiled_once_and_the_cache_is_not_part_of_the_config():
    config = bench_config()
    mapper = step_mapper(config)
    assert step_mapper(config) is mapper
    assert config == bench_config()  # compared on its fields only
    lead = context_for(bench_leads(1)[0])
    twin = copy.copy(config)
    assert twin == config and twin._mapper is None  # rebuilt where it is used
    assert step_map(config=twin, context=lead) == step_map(config=config, context=lead)
    # A config without templates (Liquid's parsed templates never could) pickles:
    no_templates = step_config(
        name="Keap",
        recipient="keap_rest",
        mappings=[m for m in config.mappings if m.kind != "template"],
        catalogue=config.catalogue,
    )
    step_mapper(no_templates)
    for twin in (copy.deepcopy(no_templates), pickle.loads(pickle.dumps(no_templates))):
        assert twin == no_templates and twin._mapper is None
        assert step_map(config=twin, context=lead) == step_map(config=no_templates, context=lead)


@pytest.mark.parametrize("policy", ["send", "drop", "skip"])
def test_explained_previews_are_the_interpreted_mappers_explanations(policy):
    """Criteria and tag / campaign rules explained condition by condition, on mapped,
    skipped and criteria-not-met leads alike."""
    config = every_kind_config(policy)
    leads_ = [*bench_leads(50), {"blocked": "yes", "email": "a@b.co"}, {"score": "x"}]
    for lead in leads_:
        context = context_for(lead)
        explained = step_map(config=config, context=context, explain=True)
        assert explained == step_map_interpreted(config=config, context=context, explain=True)
        assert explained.criteria is not None
        plain = step_map(config=config, context=context)
        assert [d.applies for d in explained.decisions] == [d.applies for d in plain.decisions]
        assert [d.rule is None for d in explained.decisions] == [
            a.rules.is_empty for a in config.actions
        ][: len(explained.decisions)]
