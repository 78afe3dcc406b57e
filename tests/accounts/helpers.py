"""Helpers for the account tests: OAuth accounts, the consent dance against the
sandbox, and the sandbox's control endpoints."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.db import connection

from integrations.delivery.engine import delivery_attempt
from integrations.models import Account, AuthType, CrmKind, Delivery, Lead

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


def raw_column(account: Account, column: str) -> str:
    """What the database really holds (the encrypted form)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM integrations_account WHERE id = %s",  # noqa: S608 - test helper
            [account.pk],
        )
        return cursor.fetchone()[0]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def spend_elsewhere(live_server, account: Account) -> None:
    """Another installation burns the Keap refresh token (rotation kills it)."""
    response = requests.post(
        sandbox(live_server, CrmKind.KEAP, "token"),
        data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
        auth=(settings.KEAP_CLIENT_ID, settings.KEAP_CLIENT_SECRET),
        timeout=5,
    )
    assert response.status_code == 200


def pending_delivery(step, email: str = "ann@example.com") -> Delivery:
    """A lead and its delivery for `step`, not enqueued (the test runs it itself)."""
    fields = {"first_name": "Ann", "last_name": "Lee", "email": email}
    lead = Lead.objects.create(
        flow=step.flow, source=step.flow.sources.get(), payload=fields, fields=fields, email=email
    )
    return Delivery.objects.create(lead=lead, step=step)


def run(delivery: Delivery) -> Delivery:
    """One delivery attempt in this process; returns the delivery as recorded."""
    delivery_attempt(delivery_id=delivery.pk)
    return Delivery.objects.get(pk=delivery.pk)
