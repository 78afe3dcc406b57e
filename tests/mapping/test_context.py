"""The context templates and rules read: lead, system fields, earlier steps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.mapping.context import (
    StepResult,
    SystemFields,
    context_value,
    lead_context,
    step_key,
)


@pytest.mark.parametrize(
    "name, key",
    [
        ("Keap", "keap"),
        ("Keap REST (demo)", "keap_rest_demo"),
        ("  HighLevel -- main ", "highlevel_main"),
        ("Café Leads", "cafe_leads"),
        ("2nd try", "step_2nd_try"),
        ("Lead", "step_lead"),  # would shadow the lead's fields
        ("!!!", "step"),
    ],
)
def test_step_key_slugifies_with_underscores(name, key):
    assert step_key(name) == key


def test_the_context_holds_lead_system_and_earlier_steps_as_json():
    received = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    context = lead_context(
        fields={"email": "a@b.co", "score": "85"},
        system=SystemFields(
            lead_id="L1", received_at=received, flow="Web", flow_id=3, source="Vendor", now=received
        ),
        steps={"keap": StepResult("success", "42", False, "")},
    )
    assert context["lead"] == {"email": "a@b.co", "score": "85"}
    assert context["system"] == {
        "lead_id": "L1",
        "received_at": "2024-06-01T10:00:00+00:00",
        "flow": "Web",
        "flow_id": 3,
        "source": "Vendor",
        "now": "2024-06-01T10:00:00+00:00",
    }
    assert context["keap"] == {
        "outcome": "success",
        "contact_id": "42",
        "duplicate": False,
        "reason": "",
    }
    json.dumps(context)  # previews show it as it is


def test_a_step_cannot_shadow_the_lead_or_system():
    context = lead_context(fields={"a": 1}, system=SystemFields(), steps={"lead": StepResult("x")})
    assert context["lead"] == {"a": 1}


def test_context_value_reads_dotted_paths():
    context = {"lead": {"utm": {"source": "g"}, "tp": ["a", "b"], "x.y": 1}}
    assert context_value(context, "lead.utm.source") == "g"
    assert context_value(context, "lead.tp.1") == "b"
    assert context_value(context, "lead.x.y") == 1
    assert context_value(context, "lead.tp.9") is None
    assert context_value(context, "lead.missing.deeper") is None
    assert context_value(context, "nothing") is None
