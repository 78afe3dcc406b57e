"""CrmSession sends exactly what requests would send (less cookies), however often the
same URL and headers come back: their preparation is kept per process."""

from __future__ import annotations

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.crm.http import CrmSession, shared_session

BASE = "https://crm.test/api/v1"

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
header_names = st.sampled_from(["Accept", "accept", "X-Api-Key", "Content-Type", "X-Trace"])
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20).map(
    str.strip
)


def what_requests_prepares(method, url, *, params=None, headers=None, json=None, auth=None):
    request = requests.Request(method, url, params=params, headers=headers, json=json, auth=auth)
    session = requests.Session()
    session.headers = shared_session().headers.copy()
    return session.prepare_request(request)


def same_request(got: requests.PreparedRequest, expected: requests.PreparedRequest) -> None:
    assert (got.method, got.url, got.body) == (expected.method, expected.url, expected.body)
    assert dict(got.headers) == dict(expected.headers)


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(["/contacts", "/contacts/5/tags", "/notes", "/a b/ü", "/x?y=1"]),
    params=st.none() | st.dictionaries(words, words | st.lists(words, max_size=2), max_size=3),
    headers=st.dictionaries(header_names, header_values, max_size=3),
    body=st.none() | st.dictionaries(words, words | st.integers(), max_size=3),
)
def test_a_call_is_prepared_as_requests_prepares_it(path, params, headers, body):
    url = BASE + path
    for _ in range(2):  # the second time from what was kept
        with responses.RequestsMock() as mocked:
            mocked.add(responses.POST, BASE + path.split("?")[0])
            CrmSession().request("post", url, params=params, headers=headers, json=body)
            got = mocked.calls[0].request
        same_request(
            got, what_requests_prepares("POST", url, params=params, headers=headers, json=body)
        )


@responses.activate
def test_headers_kept_for_one_call_are_not_changed_by_another():
    responses.post(f"{BASE}/notes")
    http = CrmSession()
    http.request("POST", f"{BASE}/notes", headers={"Accept": "application/json"}, json={"a": 1})
    http.request("POST", f"{BASE}/notes", headers={"Accept": "application/json"}, data=b"xyz")
    first, second = (call.request for call in responses.calls)
    assert first.headers["Content-Type"] == "application/json"
    assert "Content-Type" not in second.headers  # the first call's body type stays its own
    assert second.headers["Content-Length"] == "3"


@pytest.mark.parametrize("auth", [None, ("user", "pass")], ids=["in the URL", "given"])
@responses.activate
def test_credentials_in_the_url_or_given_are_sent_as_requests_sends_them(auth):
    url = "https://user:pass@crm.test/api/v1/contacts"
    responses.get(url)
    CrmSession().request("GET", url, auth=auth)
    [call] = responses.calls
    same_request(call.request, what_requests_prepares("GET", url, auth=auth))
    assert call.request.headers["Authorization"].startswith("Basic ")
