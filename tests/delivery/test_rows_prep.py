"""The engine's hand-written statements convert each value exactly as the ORM would.

`rows.saver(field)` is `field.get_db_prep_save` with a short way for the kinds of
value the engine writes most (text, integers, booleans, aware datetimes, JSON
documents). Whatever the field of the hot path's models and whatever the value, both
must give the same value, of the same type, on the database under test.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Field
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from integrations.delivery.rows import saver
from integrations.models import Attempt, DailyCounter, Delivery, DeliveryStatus, Lead, Outcome

pytestmark = pytest.mark.django_db

FIELDS = [
    f
    for model in (Delivery, Attempt, Lead, DailyCounter)
    for f in model._meta.concrete_fields
    if not f.primary_key
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
aware = st.datetimes(
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("Asia/Kolkata")])
)
# What each field may be handed: the kinds with a short way, and others that must go
# Django's way (numbers for text, text and booleans for numbers, ...).
values = st.one_of(
    st.none(),
    st.text(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.booleans(),
    aware,
    st.datetimes(),  # naive: Django makes it aware (with a warning) either way
    st.sampled_from(list(DeliveryStatus) + list(Outcome)),
    st.sampled_from(["1", "0", "t", "f", "True"]),
    json_values.filter(lambda v: isinstance(v, dict | list)),
)


def _comparable(value):
    if isinstance(value, Jsonb):
        return ("Jsonb", value.obj, value.dumps)
    return (type(value), value)


def _outcome(convert, value):
    try:
        return _comparable(convert(value, connection))
    except Exception as exc:  # noqa: BLE001 (e.g. text for a number: the same error)
        return type(exc)


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
@given(field=st.sampled_from(FIELDS), value=values)
@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_field_converts_every_value_as_the_orm_does(field: Field, value):
    connection.ensure_connection()
    assert _outcome(saver(field), value) == _outcome(field.get_db_prep_save, value)


def test_the_short_way_is_taken_for_the_common_kinds():
    """Not a stub: the common kinds skip Django's generic layers (a field whose
    get_db_prep_save would fail shows it)."""

    class Exploding(Exception):
        pass

    def explode(*_args, **_kwargs):
        raise Exploding

    for name, value in [
        ("reason", "plain text"),
        ("attempt_count", 3),
        ("duplicate", True),
        ("progress", {"done": {}}),
    ]:
        field = Delivery._meta.get_field(name)
        saver.cache_clear()
        original = field.get_db_prep_save
        field.get_db_prep_save = explode
        try:
            saver(field)(value, connection)  # does not go Django's way
            with pytest.raises(Exploding):
                saver(field)(object(), connection)  # an unusual value does
        finally:
            del field.get_db_prep_save
            assert field.get_db_prep_save == original
            saver.cache_clear()
