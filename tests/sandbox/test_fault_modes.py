"""Every fault switch of both sandboxes, over a real socket: latency with jitter, 5xx
bursts, 429 with and without Retry-After, hangs past the client's timeout, dropped
connections, malformed bodies, random faults, and "created, but answered 5xx or timed
out" (HighLevel's known "422 and still creates the contact")."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.conf import settings

from integrations.delivery.ratelimit import QuotaGate, account_gate
from integrations.models import CrmKind
from tests.factories import SandboxCrm, highlevel_account, keap_account

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class SandboxApi:
    """A sandbox CRM's API called as the app calls it: with the sandbox's own credential,
    each call taking a slot of that credential's published quotas first (the account's
    rate-limit gate, integrations.delivery.ratelimit), so the sandbox's own limits stay
    on and are never met."""

    box: SandboxCrm
    headers: dict[str, str]
    read_path: str
    create_path: str
    gate: QuotaGate

    @property
    def name(self) -> str:
        return self.box.crm

    @property
    def base(self) -> str:
        return self.box.base

    def control(self, **spec: Any) -> None:
        self.box.fault(**spec)

    def read(self, timeout: float = 5) -> requests.Response:
        self.gate.before_call()
        return requests.get(f"{self.base}/{self.read_path}", headers=self.headers, timeout=timeout)

    def create(self, email: str, timeout: float = 5) -> requests.Response:
        if self.name == "keap":
            body: dict[str, Any] = {"email_addresses": [{"email": email, "field": "EMAIL1"}]}
        else:
            body = {"locationId": settings.SANDBOX_HIGHLEVEL_LOCATION_ID, "email": email}
        self.gate.before_call()
        return requests.post(
            f"{self.base}/{self.create_path}", json=body, headers=self.headers, timeout=timeout
        )

    def contacts(self, email: str) -> list[dict]:
        return self.box.contacts(email)


@pytest.fixture(params=["keap", "highlevel"])
def sandbox(request, live_server):
    if request.param == "keap":
        box = SandboxApi(
            SandboxCrm(live_server, CrmKind.KEAP),
            {"X-Keap-API-Key": settings.SANDBOX_KEAP_API_KEY},
            "crm/rest/v1/tags",
            "crm/rest/v1/contacts",
            account_gate(keap_account()),
        )
    else:
        box = SandboxApi(
            SandboxCrm(live_server, CrmKind.HIGHLEVEL),
            {
                "Authorization": f"Bearer {settings.SANDBOX_HIGHLEVEL_TOKEN}",
                "Version": "2021-07-28",
            },
            f"workflows/?locationId={settings.SANDBOX_HIGHLEVEL_LOCATION_ID}",
            "contacts/",
            account_gate(highlevel_account()),
        )
    box.control(reset=True)
    yield box
    box.control(reset=True)


def test_latency_with_jitter_delays_each_call_within_its_bounds(sandbox):
    sandbox.control(latency_ms=200, jitter_ms=200, count=3)
    for _ in range(3):
        started = time.monotonic()
        assert sandbox.read().status_code == 200
        assert 0.2 <= time.monotonic() - started < 2.0
    started = time.monotonic()
    sandbox.read()
    assert time.monotonic() - started < 0.2


def test_a_5xx_burst_answers_the_next_n_calls_then_stops(sandbox):
    sandbox.control(status=503, count=3)
    assert [sandbox.read().status_code for _ in range(4)] == [503, 503, 503, 200]


@pytest.mark.parametrize("retry_after", [None, 7])
def test_a_429_with_or_without_retry_after(sandbox, retry_after):
    sandbox.control(status=429, retry_after=retry_after)
    response = sandbox.read()
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == (None if retry_after is None else "7")


def test_a_hang_past_the_clients_timeout_is_a_timeout(sandbox):
    sandbox.control(latency_ms=1500)
    with pytest.raises(requests.Timeout):
        sandbox.read(timeout=0.5)


def test_a_dropped_connection_breaks_the_answer(sandbox):
    sandbox.control(drop=True)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        sandbox.read().json()
    assert sandbox.read().status_code == 200


def test_a_malformed_body_does_not_parse(sandbox):
    sandbox.control(malformed=True)
    response = sandbox.read()
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_faults_can_be_narrowed_to_a_path_and_method(sandbox):
    sandbox.control(status=500, path="contacts", method="POST")
    assert sandbox.read().status_code == 200  # another route: not faulted
    assert sandbox.create("narrow@example.com").status_code == 500
    assert sandbox.contacts("narrow@example.com") == []  # answered before processing


def test_random_faults_strike_some_calls_not_all(sandbox):
    sandbox.control(status=502, probability=0.5, count=1000)
    statuses = [sandbox.read().status_code for _ in range(40)]
    assert 0 < statuses.count(502) < 40
    assert set(statuses) == {200, 502}


@pytest.mark.parametrize("status", [500, 503, 422])
def test_created_but_answered_with_an_error(sandbox, status):
    sandbox.control(status=status, created=True, path="contacts", method="POST")
    response = sandbox.create("made@example.com")
    assert response.status_code == status
    assert len(sandbox.contacts("made@example.com")) == 1


def test_created_but_timed_out(sandbox):
    sandbox.control(latency_ms=1500, created=True, path="contacts", method="POST")
    with pytest.raises(requests.Timeout):
        sandbox.create("slow@example.com", timeout=0.5)
    time.sleep(1.2)  # the server finishes its sleep; the contact was written before it
    assert len(sandbox.contacts("slow@example.com")) == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"count": 1},  # no effect
        {"status": 503, "probability": 0},
        {"status": 503, "jitter_ms": -1},
        {"drop": True, "malformed": True},
        {"status": 503, "created": "yes"},
    ],
)
def test_a_fault_that_cannot_be_is_refused(sandbox, spec):
    response = requests.post(f"{sandbox.base}/_control/faults", json=spec, timeout=5)
    assert response.status_code == 400
