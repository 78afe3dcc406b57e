"""What a call's record keeps of its bodies: every secret-named member of a JSON body
redacted, wherever it sits and however its name is written, and a body with none kept
exactly as it was sent or received."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.crm.http import REDACTED, SECRET_KEYS, _redact_json, redact_body

secret_names = st.sampled_from(sorted(SECRET_KEYS)).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title()])
)
names = secret_names | st.text(max_size=10)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(names, values, max_size=4) | st.lists(values, max_size=3)


@settings(max_examples=300, deadline=None)
@given(document=documents, ascii_only=st.booleans(), indent=st.none() | st.just(2))
def test_no_secret_named_member_survives_in_any_json_body(document, ascii_only, indent):
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    assert json.loads(redact_body(text, "application/json")) == _redact_json(document)


def test_a_secret_name_written_with_escapes_is_found_too():
    body = '{"p\\u0061ssword": "hunter2", "nested": [{"Access_Token": "t"}]}'
    assert json.loads(redact_body(body)) == {
        "password": REDACTED,
        "nested": [{"Access_Token": REDACTED}],
    }


def test_a_json_body_without_secrets_is_kept_as_it_came():
    body = '{"id":  5,\n "given_name": "Zoë", "tags": ["key"]}'  # "key" as a value only
    assert redact_body(body.encode(), "application/json") == body


def test_form_and_xml_rpc_bodies_lose_their_secrets():
    form = "grant_type=refresh_token&refresh_token=abc&client_secret=s3"
    assert redact_body(form, "application/x-www-form-urlencoded") == (
        "grant_type=refresh_token&refresh_token=%5Bredacted%5D&client_secret=%5Bredacted%5D"
    )
    call = (
        "<methodCall><methodName>ContactService.add</methodName><params><param><value>"
        "<string>KeapAK-secret</string></value></param></params></methodCall>"
    )
    assert "KeapAK-secret" not in redact_body(call)
