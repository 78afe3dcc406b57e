"""step_map: one lead through one step's configuration -> the contact, the plan, the
decisions and the messages. Pure: no database, no network."""

from __future__ import annotations

from datetime import date

import pytest

from integrations.mapping.checks import mapping_problems
from integrations.mapping.context import SystemFields, lead_context
from integrations.mapping.step_config import action_config, mapping_config, step_config
from integrations.mapping.step_map import step_map

CATALOGUE = {
    "custom_fields": [
        {"id": 7, "name": "Lead Score", "type": "WholeNumber"},
        {"id": 8, "name": "UTM Campaign", "type": "Text"},
        {"id": 10, "name": "Preferred Date", "type": "Date"},
        {"id": 11, "name": "Budget", "type": "Currency"},
        {"id": 12, "name": "Opted In", "type": "YesNo"},
        {"id": 13, "name": "Plan", "type": "Dropdown", "options": [{"label": "Gold"}, "Silver"]},
        {"id": 14, "name": "Ratio", "type": "DecimalNumber"},
        {"id": "hl1", "name": "Interest", "type": "SINGLE_OPTIONS", "options": ["A", "B"]},
    ],
    "lead_sources": [{"id": 3, "name": "Google Ads"}],
}
HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}


def ctx(**lead):
    return lead_context(fields=lead, system=SystemFields(), steps={})


def config(*mappings, actions=(), recipient="keap_rest", **kwargs):
    return step_config(
        name="Keap",
        recipient=recipient,
        mappings=mappings,
        actions=actions,
        catalogue=kwargs.pop("catalogue", CATALOGUE),
        **kwargs,
    )


def mapping(source, target, kind="field", **kwargs):
    return mapping_config(kind=kind, source=source, target=target, **kwargs)


def test_the_standard_fields_map_without_configuration():
    mapped = step_map(config=config(), context=ctx(email="A@B.co", phone_1="602 555 0101"))
    assert (mapped.contact.email, mapped.contact.phones) == ("a@b.co", ["+16025550101"])
    assert mapped.skip_reason == "" and mapped.plan.preserve_fields == frozenset()


def test_a_standard_field_can_be_switched_off_or_overridden():
    lead = {"email": "a@b.co", "phone_2": "602 555 0102", "comments": "hi", "alt": "Hello"}
    mapped = step_map(
        config=config(mapping("alt", "comments"), standard_off=["phone_2"]), context=ctx(**lead)
    )
    assert mapped.contact.phones == [] and mapped.contact.notes == "Hello"
    aliased = step_map(config=config(mapping("alt", "notes")), context=ctx(**lead))
    assert aliased.contact.notes == "Hello"  # the ContactData attribute names it too


def test_values_are_a_lead_field_a_constant_or_a_template():
    mapped = step_map(
        config=config(
            mapping("utm.campaign", "custom:8"),
            mapping("Lead", "contact_type", kind="constant"),
            mapping("{{ lead.source | source_lookup }}", "lead_source_id", kind="template"),
        ),
        context=ctx(email="a@b.co", utm={"campaign": "spring"}, source="google ads"),
    )
    assert mapped.contact.custom_fields == {"8": "spring"}
    assert mapped.contact.extra == {"contact_type": "Lead", "lead_source_id": "3"}


def test_a_mapping_applies_only_when_its_rule_holds():
    step = config(mapping("Hot", "contact_type", kind="constant", rules=HOT))
    assert step_map(config=step, context=ctx(email="a@b.co", score="85")).contact.extra
    assert not step_map(config=step, context=ctx(email="a@b.co", score="50")).contact.extra


def test_kept_fields_become_the_plans_preserve_fields():
    step = config(
        mapping("7", "owner_id", kind="constant", on_existing="keep"),
        mapping("score", "custom:7", on_existing="keep"),
        mapping("title", "title", on_existing="keep"),
        mapping("city", "city"),
    )
    mapped = step_map(config=step, context=ctx(email="a@b.co", score="9", title="CTO", city="X"))
    assert mapped.plan.preserve_fields == {"extra:owner_id", "custom:7", "job_title"}


@pytest.mark.parametrize(
    "target, value, sent",
    [
        ("custom:7", "42", 42),
        ("custom:7", "42.0", 42),
        ("custom:10", "09/25/2024", "2024-09-25"),
        ("custom:11", "$1,200.456", 1200.46),
        ("custom:12", "yes", True),
        ("custom:13", "gold", "Gold"),
        ("custom:13", "Silver", "Silver"),
        ("custom:14", "0.5", 0.5),
        ("custom:hl1", "b", "B"),
        ("custom:8", "x" * 255, "x" * 255),
        ("custom:99", "anything", "anything"),  # not in the catalogue: not checked
    ],
)
def test_custom_values_are_converted_to_the_fields_type(target, value, sent):
    mapped = step_map(config=config(mapping("v", target)), context=ctx(email="a@b.co", v=value))
    assert mapped.contact.custom_fields[target.removeprefix("custom:")] == sent


@pytest.mark.parametrize(
    "target, value, message",
    [
        ("custom:7", "4.5", "Lead Score needs a whole number"),
        ("custom:10", "soon", "Preferred Date needs a date"),
        ("custom:11", "lots", "Budget needs a number"),
        ("custom:12", "maybe", "Opted In needs yes or no"),
        ("custom:13", "Bronze", "Plan needs one of its options (Gold, Silver)"),
        ("custom:8", "x" * 256, "UTM Campaign holds at most 255 characters"),
    ],
)
def test_an_invalid_custom_value_is_sent_dropped_or_skips_the_step(target, value, message):
    lead = ctx(email="a@b.co", v=value)
    field_id = target.removeprefix("custom:")
    sent = step_map(config=config(mapping("v", target)), context=lead)
    assert sent.contact.custom_fields[field_id] == value
    assert sent.messages == (f"{target}: {message}; sent as received",)
    dropped = step_map(config=config(mapping("v", target, on_invalid="drop")), context=lead)
    assert field_id not in dropped.contact.custom_fields
    skipped = step_map(config=config(mapping("v", target, on_invalid="skip")), context=lead)
    assert (skipped.contact, skipped.skip_reason) == (None, f"invalid value for {target}")


def test_invalid_standard_values_follow_their_defaults_unless_a_mapping_says_otherwise():
    lead = ctx(email="a@b.co", phone_1="555", postal_code="8500")
    mapped = step_map(config=config(), context=lead)
    assert (mapped.contact.phones, mapped.contact.postal_code) == (["555"], "8500")
    assert "phone_1: not a valid phone number; sent as received" in mapped.messages
    dropped = step_map(
        config=config(mapping("phone_1", "phone_1", on_invalid="drop")), context=lead
    )
    assert dropped.contact.phones == []
    assert step_map(config=config(), context=ctx(email="nope")).skip_reason == "invalid email"
    sent = step_map(config=config(mapping("email", "email")), context=ctx(email="nope"))
    assert sent.contact.email == "nope"  # the marketer chose "send as received"
    bad_dob = ctx(email="a@b.co", dob="someday")
    assert step_map(config=config(), context=bad_dob).skip_reason == "invalid date of birth"
    kept = step_map(config=config(mapping("dob", "dob", on_invalid="drop")), context=bad_dob)
    assert kept.contact.birthday is None and kept.skip_reason == ""


def test_a_step_without_email_or_phone_is_skipped():
    mapped = step_map(config=config(), context=ctx(first_name="Ann"))
    assert (mapped.contact, mapped.plan, mapped.skip_reason) == (
        None,
        None,
        "email or phone required",
    )


def test_normalisation_of_the_standard_fields():
    mapped = step_map(
        config=config(),
        context=ctx(
            email=" Ann@Example.COM ",
            phone_1="(602) 555-0101",
            state="texas",
            postal_code="787011234",
            dob="09.25.1990",
        ),
    )
    contact = mapped.contact
    assert (contact.email, contact.phones) == ("ann@example.com", ["+16025550101"])
    assert (contact.region_code, contact.postal_code) == ("US-TX", "78701-1234")
    assert contact.birthday == date(1990, 9, 25)


def test_a_full_name_is_split_when_only_it_is_given():
    mapped = step_map(config=config(), context=ctx(email="a@b.co", full_name="Dr. Ann Q. Lee Jr."))
    contact = mapped.contact
    assert (contact.first_name, contact.middle_name, contact.last_name, contact.suffix) == (
        "Ann",
        "Q.",
        "Lee",
        "Jr.",
    )
    given = step_map(config=config(), context=ctx(email="a@b.co", name="X Y", first_name="Ann"))
    assert (given.contact.first_name, given.contact.last_name) == ("Ann", "")


def test_phones_are_read_for_the_steps_region_unless_the_lead_names_its_country():
    uk = config(phone_region="GB")
    assert step_map(config=uk, context=ctx(phone_1="020 7946 0958")).contact.phones == [
        "+442079460958"
    ]
    us_lead = ctx(phone_1="(602) 555-0101", country="US")
    assert step_map(config=uk, context=us_lead).contact.phones == ["+16025550101"]


def test_step_criteria_not_met_skip_with_a_countable_reason():
    step = config(criteria=HOT)
    cold = step_map(config=step, context=ctx(email="a@b.co", score="10"), explain=True)
    assert (cold.skip_reason, cold.contact) == ("step criteria not met", None)
    assert cold.criteria.items[0].actual == "10"
    assert step_map(config=step, context=ctx(email="a@b.co", score="90")).contact is not None


def test_tags_and_campaigns_apply_when_their_rules_hold_and_say_which_rule_decided():
    step = config(
        actions=[
            action_config(kind="tag", item_id="100", name="New Lead"),
            action_config(kind="tag", item_id="103", name="Hot Lead", rules=HOT),
            action_config(kind="keap_sequence", item_id="45", sequence_id="1", rules=HOT),
        ]
    )
    hot = step_map(config=step, context=ctx(email="a@b.co", score="85"), explain=True)
    assert hot.plan.tag_ids == ("100", "103")
    assert hot.plan.sequences == ({"campaign_id": "45", "sequence_id": "1"},)
    decided = {d.name or d.item_id: (d.applies, d.rule) for d in hot.decisions}
    assert decided["New Lead"] == (True, None)
    assert decided["Hot Lead"][1].items[0].describe().endswith(": yes")
    cold = step_map(config=step, context=ctx(email="a@b.co", score="50"))
    assert (cold.plan.tag_ids, cold.plan.sequences) == (("100",), ())


def test_each_campaign_kind_lands_where_its_recipient_reads_it():
    xmlrpc = config(
        recipient="keap_xmlrpc",
        actions=[
            action_config(kind="tag", item_id="7", action="remove"),
            action_config(kind="followup_sequence", item_id="200"),
            action_config(kind="followup_sequence", item_id="201", action="pause"),
            action_config(kind="action_set", item_id="3"),
        ],
    )
    plan = step_map(config=xmlrpc, context=ctx(email="a@b.co")).plan
    assert plan.sequences == ({"campaign_id": "200"},)
    assert plan.options == {
        "remove_tag_ids": ["7"],
        "pause_sequence_ids": ["201"],
        "action_set_ids": ["3"],
    }
    highlevel = config(
        recipient="highlevel",
        options={"allow_duplicates": True, "workflow_ids": ["legacy-not-read"]},
        actions=[
            action_config(kind="highlevel_workflow", item_id="wf1"),
            action_config(kind="highlevel_campaign", item_id="c1"),
        ],
    )
    plan = step_map(config=highlevel, context=ctx(email="a@b.co")).plan
    assert plan.options == {"allow_duplicates": True, "workflow_ids": ["wf1"]}
    assert plan.sequences == ({"campaign_id": "c1"},)


def test_broken_configuration_is_reported_on_every_lead_not_raised():
    step = config(
        mapping("{% if %}", "custom:8", kind="template", on_invalid="drop"),
        actions=[action_config(kind="tag", item_id="1", rules={"match": "most"})],
        criteria={"conditions": [{"field": "lead.x", "operator": "zz"}]},
    )
    mapped = step_map(config=step, context=ctx(email="a@b.co"))
    assert mapped.contact is not None and mapped.plan.tag_ids == ()
    assert len([m for m in mapped.messages if m.startswith("configuration:")]) == 3


def test_a_failed_lookup_follows_the_mappings_on_invalid_choice():
    step = config(
        mapping(
            "{{ lead.s | source_lookup }}", "lead_source_id", kind="template", on_invalid="skip"
        )
    )
    mapped = step_map(config=step, context=ctx(email="a@b.co", s="Bing"))
    assert mapped.skip_reason == "invalid value for lead_source_id"
    assert "no lead source named 'Bing'" in mapped.messages[0]


@pytest.mark.parametrize(
    "kwargs, problems",
    [
        ({"kind": "template", "source": "{{ x | nope }}", "target": "notes"}, {"source"}),
        ({"kind": "field", "source": "", "target": "notes"}, {"source"}),
        ({"kind": "constant", "source": "4.5", "target": "custom:7"}, {"source"}),
        ({"kind": "field", "source": "a", "target": "custom:404"}, {"target"}),
        ({"kind": "field", "source": "a", "target": "notes", "rules": {"match": 1}}, {"rules"}),
        ({"kind": "constant", "source": "42", "target": "custom:7"}, set()),
    ],
)
def test_save_time_checks_name_the_form_field_at_fault(kwargs, problems):
    assert set(mapping_problems(catalogue=CATALOGUE, **kwargs)) == problems
