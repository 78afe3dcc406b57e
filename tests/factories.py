"""The one place for what tests build and do: rows with sensible defaults, a lead
stored as intake stores it, requests as a source sends them, the sandbox CRMs'
control endpoints and the OAuth consent dance. Fixtures are in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import html as html_text
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.db import connection

from integrations.delivery.engine import delivery_attempt
from integrations.intake.auth import target_for_source
from integrations.intake.keys import source_create
from integrations.intake.services import lead_accept
from integrations.models import (
    Account,
    AccountStatus,
    AuthType,
    CampaignRule,
    CrmKind,
    Delivery,
    FieldMapping,
    Flow,
    Lead,
    Recipient,
    Step,
    TagRule,
)

ROOT = Path(__file__).resolve().parent.parent
ANN = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}

# --- rows ------------------------------------------------------------------------------


def keap_account(**overrides) -> Account:
    fields = {
        "name": "Keap test",
        "crm": CrmKind.KEAP,
        "auth_type": AuthType.API_KEY,
        "api_key": settings.SANDBOX_KEAP_API_KEY,
        "status": AccountStatus.CONNECTED,
    }
    fields.update(overrides)
    return Account.objects.create(**fields)


def flow_with_step(
    *,
    account: Account | None = None,
    recipient: str = Recipient.KEAP_REST,
    mappings=(),
    tags=(),
    campaigns=(),
    **step,
) -> tuple[Flow, Step, str]:
    """A flow with one recipient step and one source. Returns (flow, step, api key).

    `mappings`: (source, target) pairs (a source with "{{" is a template); `tags`: tag
    ids (or, for HighLevel, names) applied always; `campaigns`: CampaignRule fields,
    e.g. {"kind": "keap_sequence", "item_id": "45", "sequence_id": "1"}."""
    flow = Flow.objects.create(name=step.pop("flow_name", "Test flow"))
    account = account or keap_account()
    step_fields = {"name": "Deliver", "position": 1, "account": account, "recipient": recipient}
    step_fields.update(step)
    created = Step.objects.create(flow=flow, **step_fields)
    for position, (source, target) in enumerate(mappings):
        kind = "template" if "{{" in source or "{%" in source else "field"
        FieldMapping.objects.create(
            step=created, value_kind=kind, source=source, target=target, position=position
        )
    for position, tag in enumerate(tags):
        TagRule.objects.create(step=created, tag_id=str(tag), position=position)
    for position, campaign in enumerate(campaigns):
        CampaignRule.objects.create(step=created, position=position, **campaign)
    _, key = source_create(flow=flow, name="Test source")
    return flow, created, key


FULL_LEAD = {
    "first_name": "Ann",
    "middle_name": "Q",
    "last_name": "Lee",
    "suffix": "Jr",
    "email": "ann.lee@example.com",
    "phone_1": "(602) 555-0101",
    "phone_2": "+1 480 555 0102",
    "phone_3": "623-555-0103",
    "address_1": "1 Main St",
    "address_2": "Suite 5",
    "city": "Phoenix",
    "state": "AZ",
    "postal_code": "85001",
    "website": "https://ann.example.com",
    "comments": "Wants a call after 5pm",
    "title": "CTO",
    "dob": "1990-09-25",
}


def accept_lead(flow: Flow, fields: dict | None = None, *, enqueue: bool = True) -> Lead:
    """Store a lead from the flow's source with intake's own service (the lead and its
    first delivery at once). enqueue=False loses the broker message, as a crash between
    commit and publish would: the test (or the sweeper) runs the delivery."""
    fields = dict(ANN if fields is None else fields)
    target = target_for_source(flow.sources.get())
    with contextlib.ExitStack() as stack:
        if not enqueue:
            stack.enter_context(mock.patch("integrations.delivery.enqueue.transaction.on_commit"))
        accepted = lead_accept(target=target, payload=fields, fields=fields, idempotency_key=None)
    return Lead.objects.get(pk=accepted.lead_id)


def pending_delivery(step: Step, email: str = "ann@example.com") -> Delivery:
    """The delivery of a lead just accepted into `step`'s flow (whose first step it is),
    not enqueued: the test runs it with `run`."""
    delivery = accept_lead(step.flow, {**ANN, "email": email}, enqueue=False).deliveries.get()
    assert delivery.step_id == step.pk, "pending_delivery needs the flow's first step"
    return delivery


def run(delivery: Delivery) -> Delivery:
    """One delivery attempt in this process; returns the delivery as recorded."""
    delivery_attempt(delivery_id=delivery.pk)
    return Delivery.objects.get(pk=delivery.pk)


def highlevel_account(**overrides) -> Account:
    fields = {
        "name": "HighLevel test",
        "crm": CrmKind.HIGHLEVEL,
        "auth_type": AuthType.API_KEY,
        "api_key": settings.SANDBOX_HIGHLEVEL_TOKEN,
        "external_id": settings.SANDBOX_HIGHLEVEL_LOCATION_ID,
        "status": AccountStatus.CONNECTED,
    }
    fields.update(overrides)
    return Account.objects.create(**fields)


def post_lead(client, flow, key, body, *, content_type="application/json", headers=None, query=""):
    """POST `body` to the flow's intake as a source would: a dict or list is sent as
    JSON, a str or bytes as it is."""
    data = (
        json.dumps(body)
        if content_type == "application/json" and not isinstance(body, (str, bytes))
        else body
    )
    return client.post(
        f"/api/v1/flows/{flow.pk}/leads{query}",
        data=data,
        content_type=content_type,
        headers={"X-Api-Key": key, **(headers or {})},
    )


def wait_until(predicate, *, timeout: float = 20.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def replay_ended(replay_id: int, *, timeout: float = 60.0):
    """The replay once it is no longer active (finished or cancelled)."""
    from integrations.models import Replay

    def ended():
        replay = Replay.objects.get(pk=replay_id)
        return None if replay.is_active else replay

    return wait_until(ended, timeout=timeout, interval=0.2)


# --- OAuth accounts and the sandbox CRMs' own endpoints ---------------------------------

SANDBOX_PATH = {CrmKind.KEAP: "keap", CrmKind.HIGHLEVEL: "highlevel"}


def oauth_account(crm: str = CrmKind.KEAP, **fields) -> Account:
    return Account.objects.create(
        name=fields.pop("name", f"{crm} OAuth"), crm=crm, auth_type=AuthType.OAUTH, **fields
    )


def sandbox(live_server, crm: str, path: str) -> str:
    return f"{live_server.url}/sandbox/{SANDBOX_PATH[crm]}/{path}"


def sandbox_reset(live_server) -> None:
    for crm in SANDBOX_PATH:
        requests.post(sandbox(live_server, crm, "_control/faults"), json={"reset": True}, timeout=5)


def sandbox_fault(live_server, crm: str, **spec) -> None:
    response = requests.post(sandbox(live_server, crm, "_control/faults"), json=spec, timeout=5)
    response.raise_for_status()


def sandbox_stats(live_server, crm: str) -> dict:
    return requests.get(sandbox(live_server, crm, "_control/stats"), timeout=5).json()


def sandbox_contacts(live_server, crm: str, email: str) -> list[dict]:
    """The sandbox CRM's contacts with this email, as its control endpoint lists them."""
    url = sandbox(live_server, crm, "_control/contacts")
    return requests.get(url, params={"email": email}, timeout=5).json()["contacts"]


@dataclass(frozen=True)
class SandboxCrm:
    """One sandbox CRM of a live server, through its control endpoints: the helpers
    above, bound to it."""

    server: Any  # pytest-django's live_server
    crm: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/sandbox/{SANDBOX_PATH[self.crm]}"

    def fault(self, **spec) -> None:
        sandbox_fault(self.server, self.crm, **spec)

    def reset(self) -> None:
        self.fault(reset=True)

    def stats(self) -> dict:
        return sandbox_stats(self.server, self.crm)

    def calls(self, kind: str = "api_calls") -> dict[str, int]:
        """Calls received per route since the last reset (`xmlrpc_calls` for XML-RPC)."""
        return self.stats()[kind]

    def contacts(self, email: str) -> list[dict]:
        return sandbox_contacts(self.server, self.crm, email)


def keap_refresh_grants(live_server) -> int:
    """How many refresh tokens the Keap sandbox has exchanged."""
    return sandbox_stats(live_server, CrmKind.KEAP)["oauth"]["refresh_grants"]


def consent(client, account: Account, *, decision: str = "allow") -> str:
    """Press Connect as `client`, answer the sandbox's consent page, and return the
    callback URL (path and query) the CRM sends the browser back to."""
    start = client.post(f"/oauth/connect/{account.pk}/")
    assert start.status_code == 302, start
    authorize = urlsplit(start["Location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    answer = requests.post(
        authorize._replace(query="").geturl(),
        data={**params, "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def connect(client, account: Account):
    """The whole consent: Connect, Allow, callback. Returns the callback's response."""
    return client.get(consent(client, account))


def spend_elsewhere(live_server, account: Account) -> None:
    """Another installation burns the Keap refresh token (rotation kills it)."""
    response = requests.post(
        sandbox(live_server, CrmKind.KEAP, "token"),
        data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
        auth=(settings.KEAP_CLIENT_ID, settings.KEAP_CLIENT_SECRET),
        timeout=5,
    )
    assert response.status_code == 200


def raw_column(account: Account, column: str) -> str:
    """What the database really holds (the encrypted form)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM integrations_account WHERE id = %s",  # noqa: S608 - test helper
            [account.pk],
        )
        return cursor.fetchone()[0]


def keap_catalogue(**overrides) -> dict:
    """A Keap account's catalogue as Test connection stores it (the sandbox's ids)."""
    catalogue = {
        "crm": "keap",
        "custom_fields": [
            {"id": 7, "name": "Lead Score", "field_name": "LeadScore", "type": "WholeNumber"},
            {"id": 8, "name": "UTM Campaign", "field_name": "UtmCampaign", "type": "Text"},
            {
                "id": 10,
                "name": "Preferred Contact Date",
                "field_name": "PreferredContactDate",
                "type": "Date",
            },
        ],
        "tags": [
            {"id": 100, "name": "New Lead"},
            {"id": 101, "name": "Website Inquiry"},
            {"id": 103, "name": "Hot Lead"},
        ],
        "campaigns": [
            {
                "id": 45,
                "name": "Lead Nurture",
                "sequences": [{"id": 1, "name": "Welcome"}, {"id": 3, "name": "Follow-up Calls"}],
            }
        ],
        "followup_sequences": [{"id": 200, "name": "Welcome Series"}],
        "action_sets": [{"id": 300, "name": "Hot lead"}],
        "contact_types": ["Lead", "Prospect", "Customer"],
        "lead_sources": [{"id": 1, "name": "Website"}, {"id": 2, "name": "Google Ads"}],
        "owners": [{"id": 1, "name": "Sandbox Admin"}, {"id": 2, "name": "Sam Sales"}],
    }
    catalogue.update(overrides)
    return catalogue


def form_inputs(html: str) -> dict:
    """A page's form fields as a browser without script posts them back, unchanged:
    each named input's value, a select's selected option, checked boxes as lists.
    Inputs without a name (those inside a `<template>`, buttons) post nothing."""
    data: dict = {}
    for tag in re.findall(r"<(?:input|select|textarea)[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag or 'type="button"' in tag:
            continue
        name = html_text.unescape(name.group(1))
        if tag.startswith("<select"):
            block = html[html.index(tag) : html.index("</select>", html.index(tag))]
            chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', block)
            data[name] = html_text.unescape(chosen[0]) if chosen else ""
        elif 'type="checkbox"' in tag:
            if "checked" in tag:
                data.setdefault(name, [])
                value = re.search(r'value="([^"]*)"', tag)
                data[name] = [*data[name], value.group(1) if value else "on"]
        else:
            value = re.search(r'value="([^"]*)"', tag)
            data[name] = html_text.unescape(value.group(1)) if value else ""
    return data


def finished_delivery(
    step: Step,
    *,
    outcome: str,
    reason: str = "",
    duplicate: bool | None = None,
    response_ms: int | None = None,
    finished_at=None,
    email: str = "",
    contact_id: str = "",
):
    """A lead with one delivery that already has its final outcome (no CRM involved).
    Returns the Delivery. Counters are not touched: record them as the engine would
    with `integrations.health.counters.counters_record`."""
    from django.utils import timezone

    from integrations.models import Delivery, DeliveryStatus, Lead, LeadStatus

    finished_at = finished_at or timezone.now()
    source = step.flow.sources.first()
    lead = Lead.objects.create(
        flow=step.flow,
        source=source,
        payload={"email": email},
        fields={"email": email},
        email=email,
        status=LeadStatus.DONE,
        received_at=finished_at,
        finished_at=finished_at,
    )
    return Delivery.objects.create(
        lead=lead,
        step=step,
        status=DeliveryStatus.DONE,
        outcome=outcome,
        reason=reason,
        duplicate=duplicate,
        response_ms=response_ms,
        contact_id=contact_id,
        attempt_count=1,
        created_at=finished_at,
        finished_at=finished_at,
    )


def failed_delivery(flow: Flow, fields: dict, *, outcome: str = "failure", reason: str = ""):
    """A lead whose first delivery already ended in `outcome`, with the attempt that
    said so (its request body holds the lead's fields, as a CRM call's does) and its
    health counter. No broker message: the worker never sees it unless something
    enqueues it."""
    import json

    from django.utils import timezone

    from integrations.health.counters import counters_record
    from integrations.models import Attempt, Delivery

    lead = accept_lead(flow, fields, enqueue=False)
    delivery = lead.deliveries.get()
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        method="POST",
        url="https://crm.invalid/contacts",
        request_body=json.dumps(fields),
        request_headers={"Content-Type": "application/json"},
        status_code=400 if outcome == "failure" else 200,
        response_body='{"message": "Invalid"}' if outcome == "failure" else '{"id": 1}',
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        status="done",
        outcome=outcome,
        reason=reason or ("rejected by the CRM" if outcome != "success" else ""),
        contact_id="1" if outcome == "success" else "",
        attempt_count=1,
        finished_at=timezone.now(),
    )
    delivery.refresh_from_db()
    counters_record(delivery=delivery)  # as the engine does with a final outcome
    return delivery


def staff_in_role(role: str, username: str | None = None, password: str = "pw-role-8361"):
    """A staff user (not a superuser) in one of the groups of integrations/roles.py."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username or role.lower(), f"{(username or role).lower()}@example.com", password
    )
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


# A nested rule set the studio's tests build in the editor: score >= 80 AND (state is TX
# OR state is CA).
SCORE_AND_STATE = {
    "match": "all",
    "conditions": [
        {"field": "lead.score", "operator": "gte", "value": "80"},
        {
            "match": "any",
            "conditions": [
                {"field": "lead.state", "operator": "eq", "value": "TX"},
                {"field": "lead.state", "operator": "eq", "value": "CA"},
            ],
        },
    ],
}
