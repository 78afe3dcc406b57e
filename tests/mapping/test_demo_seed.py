"""The demo shows the studio off on the sandbox, and carries no sandbox-only ids when it
points at another CRM."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from integrations.models import Recipient, Step

pytestmark = pytest.mark.django_db


def step_of(recipient: str) -> Step:
    return Step.objects.get(recipient=recipient)


def seed(settings, *, keap_url: str | None = None) -> None:
    settings.SANDBOX_ENABLED = True
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.KEAP_API_BASE_URL = keap_url or "http://127.0.0.1:8000/sandbox/keap/crm"
    settings.HIGHLEVEL_API_BASE_URL = "http://127.0.0.1:8000/sandbox/highlevel"
    call_command("demo_seed", stdout=io.StringIO())


def test_on_the_sandbox_demo_steps_carry_a_custom_field_a_template_and_a_conditional_tag(
    settings,
):
    seed(settings)
    seed(settings)  # idempotent
    for recipient in Recipient.values:
        step = step_of(recipient)
        kinds = {m.value_kind for m in step.mappings.all()}
        assert {"field", "template"} <= kinds, recipient
        assert any(m.target.startswith("custom:") for m in step.mappings.all()), recipient
        assert any(t.rules for t in step.tag_rules.all()) or recipient == Recipient.HIGHLEVEL
    rest = step_of(Recipient.KEAP_REST)
    assert sorted(rest.tag_rules.values_list("tag_id", "name")) == [
        ("100", "New Lead"),
        ("103", "Hot Lead"),
    ]
    assert step_of(Recipient.HIGHLEVEL).tag_rules.filter(tag_id="hot-lead").exclude(rules={})


def test_pointed_at_another_keap_the_steps_carry_no_sandbox_ids(settings):
    seed(settings)
    seed(settings, keap_url="https://keap.example.test/crm")
    for recipient in (Recipient.KEAP_REST, Recipient.KEAP_XMLRPC):
        step = step_of(recipient)
        assert not step.tag_rules.exists() and not step.campaign_rules.exists(), recipient
        assert not step.mappings.filter(target__startswith="custom:").exists(), recipient
        assert step.mappings.filter(value_kind="template").exists(), recipient
    assert step_of(Recipient.HIGHLEVEL).tag_rules.exists()  # still on its sandbox
