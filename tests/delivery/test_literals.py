"""The engine writes its values into SQL as psycopg would write them (PostgreSQL).

`Literals` spells the hot path's common kinds of value itself and leaves the rest to
psycopg's `Transformer.as_literal`: whatever the value, both must give the same bytes,
and PostgreSQL must read the value back unchanged.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb
from psycopg.types.numeric import Int2, Int4, Int8

from integrations.delivery.literals import Literals
from integrations.models import DeliveryStatus, Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def pg():
    if connection.vendor != "postgresql":
        pytest.skip("SQL literals are written for PostgreSQL only")
    connection.ensure_connection()
    return connection.connection


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    # Django's integer fields hand psycopg's wrappers (Int4 for an IntegerField...).
    st.builds(Int2, st.integers(min_value=-(2**15), max_value=2**15 - 1)),
    st.builds(Int4, st.integers(min_value=-(2**31), max_value=2**31 - 1)),
    st.builds(Int8, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.text(),  # any text: quotes, backslashes, NUL, other scripts, surrogates excluded
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive: psycopg's own spelling
    st.datetimes(timezones=st.just(timezone(timedelta(hours=5, minutes=30)))),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False),
    st.floats(allow_nan=False),
    st.sampled_from(list(DeliveryStatus) + list(Outcome)),
    json_values.map(lambda obj: Jsonb(obj, dumps=json.dumps)),
    json_values.map(lambda obj: Jsonb(obj, dumps=lambda o: json.dumps(o, ensure_ascii=False))),
    json_values.map(Jsonb),  # no dumps of its own: psycopg's
)


@given(value=values)
@example(value="it's")
@example(value="C:\\temp\\it's")
@example(value="a\x00b")
@example(value=-1)
@example(value=Int4(-7))
@example(value=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
@example(value=Jsonb({"note": "l'été \\ \u00e9"}, dumps=json.dumps))
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_value_is_spelt_as_psycopg_spells_it(pg, value):
    theirs = _outcome(Transformer.from_context(pg).as_literal, value)
    ours = _outcome(Literals(pg), value)
    assert ours == theirs


def _outcome(write, value):
    try:
        return write(value)
    except Exception as exc:  # noqa: BLE001 (e.g. NUL in text: the same error either way)
        return type(exc)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        "back\\slash and 'quote'",
        "\\'",
        "émoji 🎉 and 中文",
        -42,
        10**20,
        Int4(-42),
        Int8(2**40),
        True,
        None,
        datetime(2026, 12, 3, 6, 25, 25, 123456, tzinfo=UTC),
        date(2026, 2, 28),
        uuid.UUID("f26e75fd-9bc2-420e-b28f-09e6afc930dc"),
    ],
)
def test_postgresql_reads_each_value_back_unchanged(pg, value):
    with connection.cursor() as cursor:
        cursor.execute(b"SELECT " + Literals(pg)(value))
        assert cursor.fetchone()[0] == value


def test_a_json_document_is_read_back_as_the_same_document(pg):
    document = {"it's": ["a\\b", "é", 1, None, {"nested": True}]}
    with connection.cursor() as cursor:
        cursor.execute(b"SELECT " + Literals(pg)(Jsonb(document, dumps=json.dumps)))
        assert json.loads(cursor.fetchone()[0]) == document  # Django reads jsonb as text


def test_a_choice_is_written_as_its_value(pg):
    assert Literals(pg)(DeliveryStatus.DONE) == Literals(pg)(DeliveryStatus.DONE.value)


def test_values_of_other_kinds_are_left_to_psycopg(pg):
    assert Literals(pg)(Decimal("1.50")) == Transformer.from_context(pg).as_literal(Decimal("1.50"))
