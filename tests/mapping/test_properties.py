"""Property-based tests (hypothesis): the mapper is total, normalisation idempotent,
the bodies it leads to valid against the vendors' official schemas, and templates
contained. Example counts suit CI; raise them locally with HYPOTHESIS_PROFILE=deep."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from liquid.exceptions import LiquidError

from integrations.crm import highlevel, keap_rest
from integrations.crm.base import ContactData
from integrations.mapping.contact_values import (
    birthday_normalise,
    email_normalise,
    phone_normalise,
    postal_code_normalise,
)
from integrations.mapping.context import SystemFields, lead_context
from integrations.mapping.places import place_from_lead
from integrations.mapping.step_config import STANDARD_FIELDS, action_config, mapping_config
from integrations.mapping.step_config import step_config as make_config
from integrations.mapping.step_map import MappedStep, step_map
from integrations.mapping.templates import MAX_OUTPUT_CHARS, TemplateError, template_compile
from integrations.sandbox.highlevel import schema as highlevel_schema
from tests.openapi import assert_valid

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("deep", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

KEYS = [*STANDARD_FIELDS, "country", "company", "full_name", "score", "utm", "tags", "source"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet="0123456789 +-()./", max_size=20),  # phone- and date-like
    st.text(max_size=3000),  # oversized
    st.sampled_from(["ann@example.com", "ANN@Example.COM", "(602) 555-0101", "09/25/1990",
                     "Texas", "TX", "85001", "K1A 0B1", "Canada", "85", "yes", "Gold"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
leads = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=14)

CATALOGUE = {
    "custom_fields": [
        {"id": 7, "name": "Lead Score", "type": "WholeNumber"},
        {"id": 8, "name": "UTM Campaign", "type": "Text"},
        {"id": 10, "name": "Date", "type": "Date"},
        {"id": 12, "name": "Opted", "type": "YesNo"},
        {"id": 13, "name": "Plan", "type": "Dropdown", "options": ["Gold", "Silver"]},
        {"id": "hl1", "name": "Score", "type": "NUMERICAL"},
    ],
    "lead_sources": [{"id": 3, "name": "Google Ads"}],
}
HOT = {"conditions": [{"field": "lead.score", "operator": "gte", "value": "80"}]}


def keap_config(on_invalid: str):
    mappings = [
        mapping_config(kind="field", source="score", target="custom:7", on_invalid=on_invalid),
        mapping_config(kind="field", source="utm.campaign", target="custom:8"),
        mapping_config(kind="field", source="dob", target="custom:10", on_invalid=on_invalid),
        mapping_config(kind="field", source="tags", target="custom:12", on_invalid=on_invalid),
        mapping_config(kind="field", source="source", target="custom:13", on_invalid=on_invalid),
        mapping_config(
            kind="template",
            source="{{ lead.first_name }} {{ lead.tags | join: ', ' }} {{ lead.score | plus: 1 }}",
            target="custom:8",
            on_invalid=on_invalid,
        ),
        mapping_config(
            kind="template",
            source="{{ lead.source | source_lookup }}",
            target="lead_source_id",
            on_invalid=on_invalid,
            rules=HOT,
        ),
        mapping_config(kind="field", source="phone_2", target="phone_1", on_invalid=on_invalid),
        mapping_config(kind="field", source="email", target="email", on_invalid=on_invalid),
        mapping_config(kind="constant", source="7", target="owner_id", on_existing="keep"),
    ]
    actions = [action_config(kind="tag", item_id="103", rules=HOT)]
    return make_config(
        name="Keap", recipient="keap_rest", mappings=mappings, actions=actions,
        catalogue=CATALOGUE, criteria={"conditions": [{"field": "lead.x", "operator": "blank"}]},
    )  # fmt: skip


def highlevel_config(on_invalid: str):
    mappings = [
        mapping_config(kind="field", source="score", target="custom:hl1", on_invalid=on_invalid),
        mapping_config(kind="template", source="{{ lead.source }}", target="source"),
        mapping_config(kind="field", source="email", target="email", on_invalid=on_invalid),
    ]
    return make_config(name="HL", recipient="highlevel", mappings=mappings, catalogue=CATALOGUE)


def mapped(lead, config) -> MappedStep:
    context = lead_context(fields=lead, system=SystemFields(lead_id="L"), steps={})
    return step_map(config=config, context=context)


on_invalid = st.sampled_from(["send", "drop", "skip"])


@given(lead=leads, policy=on_invalid)
def test_the_mapper_never_raises_and_either_maps_or_skips_with_a_reason(lead, policy):
    for config in (keap_config(policy), highlevel_config(policy)):
        result = step_map(
            config=config,
            context=lead_context(fields=lead, system=SystemFields(), steps={}),
            explain=True,
        )
        assert (result.contact is None) == bool(result.skip_reason) == (result.plan is None)
        if result.contact is not None:
            assert result.contact.email or result.contact.phones


def keap_valid(contact: ContactData) -> None:
    body = keap_rest.contact_body(contact, address_type="BILLING")
    assert_valid("keap-rest-v1.openapi.json", "/v1/contacts", "POST", body)
    assert_valid("keap-rest-v1.openapi.json", "/v1/contacts", "PUT", body)


@given(lead=leads, policy=on_invalid)
def test_every_keap_rest_body_validates_against_the_official_schema(lead, policy):
    result = mapped(lead, keap_config(policy))
    if result.contact is not None:
        keap_valid(result.contact)


@given(lead=leads, policy=on_invalid)
def test_every_highlevel_body_validates_against_the_official_schema(lead, policy):
    result = mapped(lead, highlevel_config(policy))
    if result.contact is not None:
        body = highlevel.contact_body(result.contact, location_id="loc1")
        for dto in ("CreateContactDto", "UpsertContactDto"):
            assert highlevel_schema.violations(dto, body) == []


# --- normalisation is idempotent ----------------------------------------------------

texts = st.text(max_size=30) | st.sampled_from(
    ["Ann@Example.COM ", "(602) 555-0101", "+44 20 7946 0958", "850011234", "k1a0b1",
     "sw1a1aa", "09.25.1990", "1990-09-25", "25 Sep 1990", "Texas", "tx", "Ontario"]
)  # fmt: skip
regions = st.sampled_from(["US", "CA", "GB", "DE", "AU", "FR"])


@given(value=texts)
def test_email_normalisation_is_idempotent(value):
    once = email_normalise(value)
    assert email_normalise(once.value) == once


@given(value=texts, region=regions)
def test_phone_normalisation_is_idempotent(value, region):
    once = phone_normalise(value, region)
    assert phone_normalise(once.value, region) == once


@given(value=texts, region=regions)
def test_postal_code_normalisation_is_idempotent(value, region):
    once = postal_code_normalise(value, region)
    assert postal_code_normalise(once.value, region) == once


@given(value=texts | st.dates())
def test_birthday_normalisation_is_idempotent(value):
    once = birthday_normalise(value)
    assert birthday_normalise(once.value) == once


@given(state=texts, country=st.sampled_from(["", "US", "Canada", "GB", "Atlantis"]))
def test_state_resolution_is_idempotent(state, country):
    once = place_from_lead(state=state, country_value=country)
    again = place_from_lead(state=once.region_name, country_value=once.country_alpha2 or country)
    assert (again.region_code, again.region_name) == (once.region_code, once.region_name)


# --- templates are contained --------------------------------------------------------

dunder = st.sampled_from(
    ["__class__", "__globals__", "__init__", "__dict__", "__mro__", "__subclasses__",
     "__builtins__", "__module__", "__code__", "func_globals", "mro", "__base__"]
)  # fmt: skip
roots = st.sampled_from(["lead", "system", "now", "catalogue", "lead.first_name", "lead.tags"])


@given(root=roots, path=st.lists(dunder, min_size=1, max_size=4), bracket=st.booleans())
def test_no_template_reaches_python_internals(root, path, bracket):
    dotted = ".".join(path) if not bracket else "".join(f"['{p}']" for p in path)
    source = f"{{{{ {root}{'.' if not bracket else ''}{dotted} }}}}"
    context = lead_context(
        fields={"first_name": "Ann", "tags": ["a"]}, system=SystemFields(), steps={}
    )
    try:
        out = template_compile(source).render(context, catalogue={"tags": []})
    except TemplateError:
        return
    assert out == ""


@given(
    ranges=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=3),
    body=st.text(alphabet="xy", min_size=1, max_size=50),
)
def test_loops_are_bounded_and_output_never_exceeds_the_bound(ranges, body):
    source = "".join(f"{{% for i{n} in (1..{r}) %}}" for n, r in enumerate(ranges))
    source += body + "{% endfor %}" * len(ranges)
    try:
        out = template_compile(source).render({"lead": {}})
    except TemplateError as exc:
        assert "limit" in exc.message
        return
    assert len(out) <= MAX_OUTPUT_CHARS


@pytest.mark.parametrize("policy", ["send", "drop", "skip"])
def test_the_full_lead_maps_for_every_policy(policy):
    from tests.factories import FULL_LEAD

    result = mapped({**FULL_LEAD, "score": "90", "tags": "yes"}, keap_config(policy))
    assert result.contact is not None and result.plan.tag_ids == ("103",)
    keap_valid(result.contact)


names = st.sampled_from(["lead", "a", "b", "first_name", "tags", "x1", "system", "keap"])
outputs = st.lists(names, min_size=1, max_size=3).map(lambda p: "{{ " + ".".join(p) + " }}")
plain_templates = st.lists(outputs | st.text(alphabet="ab -.,>}{", max_size=5), max_size=6).map(
    "".join
)


@given(source=plain_templates, lead=leads)
def test_plain_templates_render_exactly_as_liquid_does(source, lead):
    try:
        template = template_compile(source)
    except TemplateError:
        return
    context = lead_context(fields=lead, system=SystemFields(), steps={})
    scope = {**lead, **context, "catalogue": {}}
    try:
        liquid_out = str(template.compiled.render(scope)).strip()
    except LiquidError:  # the output bound
        with pytest.raises(TemplateError):
            template.render_scope(scope)
        return
    assert template.render_scope(scope) == liquid_out
