"""Properties of the body parser and the normaliser, over generated input: whatever the
bytes, the answer is a payload or LeadInvalid (a 400), never another exception; what
is accepted can be stored as JSON and sent as UTF-8; keys come out folded and stable."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.intake.parsing import BodyLimits, parse_body
from integrations.mapping.normalise import LeadInvalid, lead_fields, normalise_key

LIMITS = BodyLimits(max_depth=16, max_values=5_000, max_fields=500)
# Derandomised: every CI run tries the same examples, so a red build is reproducible.
QUICK = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# Any text, lone surrogates and NUL included; numbers including NaN and ±Infinity.
TEXT = st.text(st.characters(codec=None), max_size=20)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)


def accept(body: bytes, content_type: str = "application/json"):
    """The lead's normalised fields, or None when the body is answered 400."""
    try:
        return lead_fields(parse_body(body, content_type, limits=LIMITS), max_field_chars=100)
    except LeadInvalid as exc:
        assert exc.fields and all(isinstance(m, list) and m for m in exc.fields.values())
        json.dumps(exc.fields).encode("utf-8")  # the error body itself can be sent
        return None


def assert_storable(fields) -> None:
    text = json.dumps(fields, ensure_ascii=False, allow_nan=False)  # no NaN / Infinity
    text.encode("utf-8")  # no lone surrogate
    assert "\x00" not in text and "\\u0000" not in text  # PostgreSQL's jsonb refuses NUL


@QUICK
@given(st.binary(max_size=300))
def test_any_bytes_are_a_lead_or_a_400(body):
    fields = accept(body)
    if fields is not None:
        assert_storable(fields)


@QUICK
@given(st.dictionaries(TEXT, JSON_VALUES, min_size=1, max_size=6))
def test_any_json_object_is_a_storable_lead_or_a_400(payload):
    fields = accept(json.dumps(payload).encode())
    if fields is not None:
        assert_storable(fields)
        assert all(key == normalise_key(key) and key for key in fields)


@QUICK
@given(JSON_VALUES)
def test_a_lead_refused_for_its_values_names_the_field(value):
    text_ok = _deliverable(value)
    try:
        parse_body(json.dumps({"f": value}).encode(), "application/json", limits=LIMITS)
    except LeadInvalid as exc:
        assert not text_ok or "__all__" in exc.fields
        if not text_ok:
            assert list(exc.fields) == ["f"]
    else:
        assert text_ok


@QUICK
@given(st.integers(min_value=1, max_value=50_000), st.sampled_from(["[", '{"a":']))
def test_any_depth_is_measured_without_recursing(depth, opener):
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + "1" + closer * depth).encode()
    try:
        parse_body(body, "application/json", limits=LIMITS)
    except LeadInvalid as exc:
        assert depth > LIMITS.max_depth
        assert exc.fields == {"__all__": ["The body is nested more than 16 levels deep."]}
    else:
        assert depth <= LIMITS.max_depth


@QUICK
@given(st.text(max_size=200))
def test_any_form_body_is_a_lead_or_a_400(text):
    fields = accept(text.encode("utf-8", "surrogatepass"), "application/x-www-form-urlencoded")
    if fields is not None:
        assert_storable(fields)
        assert all(isinstance(value, str) for value in fields.values())


@QUICK
@given(TEXT)
def test_a_folded_key_is_stable_lower_case_and_trimmed(key):
    folded = normalise_key(key)
    assert normalise_key(folded) == folded
    assert not folded.startswith("_") and not folded.endswith("_")
    assert not any(c.isspace() for c in folded)


def _deliverable(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_deliverable(v) for v in value)
    if isinstance(value, dict):
        return all(_deliverable(k) and _deliverable(v) for k, v in value.items())
    return True
