"""The fast paths answer as the slow ones: templates rendered by closures as Liquid
renders them (text and errors, byte for byte), North American phones as phonenumbers
reads them, dates as strptime, emails as Django's validator."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.mapping.context import StepResult, SystemFields, lead_context
from integrations.mapping.phones import phone_e164, phone_e164_reference
from integrations.mapping.template_compiler import Scope
from integrations.mapping.templates import TemplateError, template_compile, template_scope
from integrations.mapping.values import _parse_date_text, is_email, parse_date_reference

CATALOGUE = {
    "lead_sources": [{"id": 9, "name": "Google Ads"}, {"id": 10, "name": "Facebook"}],
    "tags": [{"id": 103, "name": "Hot Lead"}],
    "contact_types": ["Lead", "Customer"],
}


def both_ways(source: str, context: dict, catalogue=CATALOGUE) -> tuple[object, object]:
    """(the compiled closures' answer, the reference's: plain look-ups or Liquid)."""
    template = template_compile(source)

    def outcome(render):
        try:
            return render()
        except TemplateError as exc:
            return ("error", exc.message)

    fast = outcome(lambda: template.render_for(Scope(context, catalogue)))
    reference = outcome(lambda: template.render_scope(template_scope(context, catalogue)))
    return fast, reference


def context_for(lead: dict, *, now: bool = True) -> dict:
    context = lead_context(
        fields=lead,
        system=SystemFields(lead_id="L1", flow="Web", source="Vendor"),
        steps={"keap": StepResult("success", "5", True)},
    )
    if now:
        context["system"]["now"] = "2024-06-01T10:00:00+00:00"
    return context


COMPILED_SHAPES = [
    "{{ lead.first_name }} {{ lead.last_name }}",
    "Lead Path: {{ lead.touchpoints | join: ' > ' }}",
    "{% if lead.score >= 80 %}hot{% else %}warm{% endif %}",
    "{% if lead.score > 50 and lead.opt_in == 'yes' %}A{% elsif lead.score < 9 or x %}B{% endif %}",
    "{% if lead.company == blank %}none{% endif %}{% if lead.tags contains 'ad' %}ad{% endif %}",
    "{% if lead.score != 85 %}x{% endif %}{% if lead.score <= 85.5 %}y{% endif %}",
    "{{ lead.source_name | source_lookup }}",
    "{{ lead.utm.campaign | upcase }}-{{ system.flow }}",
    "{{ now | date: '%Y-%m-%d' }}",
    "{{ lead.score | plus: 10 }}",
    "{{ lead.email | downcase | replace: '@', ' at ' }}",
    "{% for t in lead.touchpoints %}{{ t | capitalize }} {% else %}none{% endfor %}",
    "{%- if lead.score -%}  {{ lead.score }}  {%- endif -%}",
    "{% if lead.score %}   {% endif %}|",  # a blank block renders nothing
    "{{ first_name }} {{ keap.outcome }} {{ catalogue.tags[0].name }}",
    "{{ lead.touchpoints[1] }}{{ lead.name[0] }}{{ lead.missing.deeper | default: 'd' }}",
    "{{ lead.x | lookup: 'contact_types' }}",
    "{{ lead.when | date: '%d/%m/%Y %H:%M' }} {{ lead.score | date: '%Y' }}",
]


@pytest.mark.parametrize("source", COMPILED_SHAPES)
def test_the_common_shapes_are_compiled(source):
    assert template_compile(source).fast is not None


@pytest.mark.parametrize(
    "source",
    [
        "{{ lead.touchpoints.size }}",  # Liquid's own properties
        "{% assign x = 1 %}{{ x }}",
        "{% for t in lead.tags %}{{ forloop.index }}{% endfor %}",
        "{% for a in lead.x %}{% for b in a %}{{ b }}{% endfor %}{% endfor %}",
        "{% for t in lead.tags limit: 2 %}{{ t }}{% endfor %}",
        "{% case lead.x %}{% when 1 %}one{% endcase %}",
        "{{ partial }}",
        "{{ (1..3) | join }}",
    ],
)
def test_other_shapes_are_left_to_liquid(source):
    template = template_compile(source)
    assert template.fast is None
    lead = {"touchpoints": ["a"], "tags": ["x", "y", "z"], "x": [[1, 2]], "partial": "no"}
    fast, reference = both_ways(source, context_for(lead))
    assert fast == reference


LEADS = [
    {},
    {"first_name": "Ann", "last_name": "Lee", "score": "85", "opt_in": "yes", "tags": ["ad"]},
    {"score": "abc", "touchpoints": ["ad", "form"], "email": "Ann@Example.COM", "name": "Zo"},
    {"score": 85, "company": "", "source_name": "google ads", "utm": {"campaign": "spring"}},
    {"score": 9.5, "touchpoints": [], "source_name": "Nowhere", "x": "Lead"},
    {"score": True, "touchpoints": "ad", "utm": "flat", "email": None, "x": "nope"},
    {"score": None, "touchpoints": [1, None, True, 2.5], "source_name": "", "name": ["a"]},
    {"score": "85", "touchpoints": ["x"] * 1_001},  # beyond the loop limit
    {"touchpoints": ["é" * 9_000, "ü" * 9_000]},  # beyond the output limit
    {"when": datetime(2024, 2, 29, 13, 5), "score": "2024-06-01"},
    {"when": date(2024, 2, 29), "score": 1_700_000_000},
]


@pytest.mark.parametrize("source", COMPILED_SHAPES)
@pytest.mark.parametrize("lead", LEADS)
def test_compiled_templates_render_as_liquid(source, lead):
    fast, reference = both_ways(source, context_for(lead))
    assert fast == reference


def test_a_lookup_that_finds_nothing_fails_with_liquids_message_and_position():
    for source in (
        "{{ lead.source_name | source_lookup }}",
        "x {% if lead.score %}{{ lead.source_name | source_lookup }}{% endif %}",
        "ab\n{% for t in lead.touchpoints %}{{ t | tag_lookup }}{% endfor %}",
    ):
        lead = {"source_name": "Nowhere", "score": "1", "touchpoints": ["Hot Lead", "Cold"]}
        fast, reference = both_ways(source, context_for(lead))
        assert fast == reference
        assert fast[0] == "error" and "line" in fast[1]
    fast, reference = both_ways("{{ 'x' | source_lookup }}", context_for({}), catalogue={})
    assert fast == reference == ("error", fast[1])


names = st.sampled_from(["lead.score", "lead.tags", "lead.name", "lead.utm.x", "x", "keap.outcome"])
literals = st.sampled_from(["80", "'80'", "'a'", "true", "nil", "1.5", "empty", "blank"])
filters = st.sampled_from(
    ["", " | upcase", " | plus: 1", " | join: '-'", " | size", " | default: 'd'", " | first",
     " | downcase", " | capitalize", " | join: 1", " | join: x", " | upcase | join: ' '"]
)  # fmt: skip
operators = st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "contains"])


@st.composite
def templates(draw):
    """Templates of the compiled shapes, nested and combined."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "output", "if", "for"]))
        if kind == "text":
            parts.append(draw(st.sampled_from(["a", " ", "\n", "-"])))
        elif kind == "output":
            parts.append("{{ " + draw(names | literals) + draw(filters) + " }}")
        elif kind == "if":
            condition = f"{draw(names)} {draw(operators)} {draw(literals)}"
            if draw(st.booleans()):
                condition += f" {draw(st.sampled_from(['and', 'or']))} {draw(names)}"
            body = "{{ " + draw(names) + draw(filters) + " }}"
            parts.append(f"{{% if {condition} %}}{body}{{% else %}} {{% endif %}}")
        else:
            parts.append(
                "{% for t in " + draw(names) + " %}{{ t" + draw(filters) + " }},{% endfor %}"
            )
    return "".join(parts)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["80", "85", "abc", "", " ", "a", "ÉTÉ"]),
    st.lists(st.sampled_from(["a", "b", 1, None, "80", "ÉTÉ", ["a", "b"], ("c",)]), max_size=3),
    st.dictionaries(st.sampled_from(["x", "y"]), st.sampled_from(["1", 2]), max_size=2),
)


@given(
    source=templates(),
    lead=st.fixed_dictionaries(
        {}, optional={"score": values, "tags": values, "name": values, "utm": values, "x": values}
    ),
)
@example(source="{% if lead.score >= 80 %}{{ x }}{% else %} {% endif %}", lead={"score": "85"})
def test_generated_templates_render_as_liquid(source, lead):
    fast, reference = both_ways(source, context_for(lead))
    assert fast == reference


# --- phones ----------------------------------------------------------------------------

shapes = st.sampled_from(
    ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "{a}{e}{l}", "+1 {a} {e} {l}",
     "+1-{a}-{e}-{l}", "+1({a}) {e}-{l}", "({a}){e}-{l}", "+1{a}{e}{l}", "1 {a} {e} {l}"]
)  # fmt: skip


@given(
    shape=shapes,
    area=st.integers(100, 999),
    exchange=st.integers(100, 999),
    line=st.integers(0, 9999),
    region=st.sampled_from(["US", "CA", "GB", "JM", ""]),
)
def test_north_american_numbers_read_as_phonenumbers_reads_them(
    shape, area, exchange, line, region
):
    text = shape.format(a=area, e=exchange, l=f"{line:04d}")
    assert phone_e164.__wrapped__(text, region) == phone_e164_reference(text, region)


def test_every_area_code_reads_as_phonenumbers_reads_it():
    """US and Canadian numbers, and the Caribbean's and territories' that share +1."""
    for area in range(200, 1000):
        for region in ("US", "CA"):
            for exchange, line in ((555, "0101"), (234, "5678")):
                text = f"({area}) {exchange}-{line}"
                assert phone_e164.__wrapped__(text, region) == phone_e164_reference(text, region)


@given(
    text=st.text(alphabet="0123456789 +-().x", max_size=20), region=st.sampled_from(["US", "CA"])
)
def test_anything_else_is_left_to_phonenumbers(text, region):
    assert phone_e164.__wrapped__(text.strip(), region) == phone_e164_reference(
        text.strip(), region
    )


# --- dates and emails ------------------------------------------------------------------


@st.composite
def date_texts(draw):
    digits = st.text(alphabet="0123456789١٢", min_size=1, max_size=4)
    separator = st.sampled_from(["-", "/", ".", " ", "  ", ", "])
    month = st.sampled_from(["Sep", "sep", "SEPT", "May", "Jan", "Foo", "September"])
    parts = draw(st.lists(digits | month, min_size=3, max_size=3))
    return draw(separator).join(parts[:2]) + draw(separator) + parts[2]


@given(text=date_texts())
@example(text="1990-02-30")
@example(text="02/30/1990")
@example(text="00/10/1990")
@example(text="1 Sep 1990")
def test_dates_read_as_strptime_reads_them(text):
    assert _parse_date_text.__wrapped__(text) == parse_date_reference(text)


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1)),
    fmt=st.lists(
        st.sampled_from(["%Y", "%m", "%d", "%H", "%M", "%S", "%%", "%b", "%j", "-", "{", "}", "x"]),
        max_size=6,
    ).map("".join),
)
@example(moment=datetime(2024, 2, 9, 5, 6, 7), fmt="%Y-%m-%d")
@example(moment=datetime(999, 2, 9), fmt="%Y-%m-%d")
@example(moment=datetime(2024, 2, 9), fmt="%Y-%m-%d%")
def test_the_date_filter_formats_as_strftime(moment, fmt):
    from integrations.mapping.template_compiler import _date
    from integrations.mapping.templates import ENVIRONMENT

    assert _date(moment, fmt, environment=ENVIRONMENT) == moment.strftime(fmt)


catalogue_names = st.sampled_from(["Google Ads", " google ads", "Referral", "3", "", "É", 3, None])
catalogue_items = st.one_of(
    catalogue_names,
    st.fixed_dictionaries({}, optional={"id": catalogue_names, "name": catalogue_names}),
    st.lists(catalogue_names, max_size=1),
)


@given(
    catalogue=st.dictionaries(
        st.sampled_from(["owners", "users", "lead_sources"]),
        st.lists(catalogue_items, max_size=5) | st.just("not a list"),
        max_size=3,
    ),
    lists=st.sampled_from([("lead_sources",), ("owners", "users"), ("users", "owners")]),
    name=catalogue_names,
)
def test_a_catalogue_index_finds_what_the_scan_finds(catalogue, lists, name):
    from integrations.mapping.templates import CatalogueIndex, catalogue_lookup

    def outcome(find):
        try:
            return find()
        except TemplateError as exc:
            return ("error", exc.message)

    index = CatalogueIndex(catalogue)
    scanned = outcome(lambda: catalogue_lookup(catalogue, lists, name, what="owner"))
    assert outcome(lambda: index.lookup(lists, name, what="owner")) == scanned
    assert outcome(lambda: index.lookup(lists, name, what="owner")) == scanned  # read once


_django = EmailValidator()


def django_says(text: str) -> bool:
    try:
        _django(text)
    except ValidationError:
        return False
    return True


@given(
    local=st.text(alphabet="ab.+_-'é\"@", min_size=0, max_size=8),
    domain=st.text(alphabet="ab.-1xnéK", min_size=0, max_size=12),
)
@example(local="ann", domain="example.com")
@example(local="a..b", domain="example.com")
@example(local="ann", domain="-example.com")
@example(local="ann", domain="xn--bcher-kva.example")
def test_emails_are_valid_as_django_says(local, domain):
    text = f"{local}@{domain}"
    assert is_email(text) == django_says(text)


# --- custom field checks ------------------------------------------------------------------


@given(
    kind=st.sampled_from(["whole_number", "decimal", "currency", "date", "yes_no", "text", None]),
    options=st.sampled_from([(), ("Red", "Blue")]),
    max_length=st.integers(0, 12),
    value=st.one_of(
        st.text(max_size=16),
        st.sampled_from([" 80 ", "$1,200", "yes", "2024-02-29", " " * 20, "ÉTÉ  "]),
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.lists(st.sampled_from(["a", " b", 1]), max_size=3),
    ),
)
def test_a_fields_checker_answers_as_the_check(kind, options, max_length, value):
    from integrations.mapping.custom_fields import (
        CustomFieldSpec,
        custom_value_check,
        custom_value_checker,
    )

    for spec_kind in (kind, "dropdown"):
        spec = CustomFieldSpec("7", "Field", spec_kind, options, max_length)
        assert custom_value_checker(spec)(value) == custom_value_check(spec, value)
