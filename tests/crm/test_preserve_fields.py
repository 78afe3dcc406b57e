"""StepPlan.preserve_fields in every recipient: on an existing contact the kept fields
are left as they are and the others updated; a new contact gets them all; a step that
keeps nothing pays for no look-up."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings

from integrations.crm.base import ContactData, Credentials, StepPlan
from integrations.crm.http import CrmSession
from integrations.crm.registry import recipient_for

pytestmark = pytest.mark.django_db(transaction=True)

KEEP = frozenset({"first_name", "job_title"})


def first_name_and_city(crm: str, row: dict) -> tuple[str, str]:
    if crm == "highlevel":
        return row.get("firstName", ""), row.get("city", "")
    return row.get("given_name", ""), (row.get("addresses") or [{}])[0].get("locality", "")


@pytest.fixture(params=["keap_rest", "keap_xmlrpc", "highlevel"])
def crm(request, live_server):
    kind = request.param
    box = "highlevel" if kind == "highlevel" else "keap"
    base = f"{live_server.url}/sandbox/{box}"
    requests.post(f"{base}/_control/faults", json={"reset": True}, timeout=5)
    if box == "keap":
        credentials = Credentials(base_url=f"{base}/crm", api_key=settings.SANDBOX_KEAP_API_KEY)
    else:
        credentials = Credentials(
            base_url=base,
            api_key=settings.SANDBOX_HIGHLEVEL_TOKEN,
            location_id=settings.SANDBOX_HIGHLEVEL_LOCATION_ID,
        )

    class Crm:
        name = box

        @staticmethod
        def deliver(contact: ContactData, keep=frozenset(), http=None):
            plan = StepPlan(
                action="create_or_update", duplicate_match="Email", preserve_fields=keep
            )
            return recipient_for(kind).deliver(
                contact=contact, plan=plan, credentials=credentials, http=http or CrmSession()
            )

        @staticmethod
        def stored(email: str) -> tuple[str, str]:
            url = f"{base}/_control/contacts"
            [row] = requests.get(url, params={"email": email}, timeout=5).json()["contacts"]
            return first_name_and_city(box, row)

    Crm.kind = kind
    return Crm


def lead(first_name: str, city: str) -> ContactData:
    return ContactData(first_name=first_name, last_name="Park", email="kim@example.com", city=city)


def test_an_existing_contact_keeps_the_fields_the_step_preserves(crm):
    crm.deliver(lead("Kim", "Austin"))
    result = crm.deliver(lead("Kimberly", "Dallas"), keep=KEEP)
    assert result.duplicate is True
    assert crm.stored("kim@example.com") == ("Kim", "Dallas")  # kept, updated


def test_a_new_contact_gets_the_preserved_fields_too(crm):
    result = crm.deliver(lead("Kimberly", "Dallas"), keep=KEEP)
    assert result.duplicate is False
    assert crm.stored("kim@example.com") == ("Kimberly", "Dallas")


def test_a_step_that_preserves_nothing_pays_for_no_lookup(crm):
    crm.deliver(lead("Kim", "Austin"))
    http = CrmSession()
    crm.deliver(lead("Kimberly", "Dallas"), http=http)
    # XML-RPC's addWithDupCheck does not say whether it matched: one findByEmail tells.
    assert len(http.calls) == (2 if crm.kind == "keap_xmlrpc" else 1)
    assert crm.stored("kim@example.com") == ("Kimberly", "Dallas")
