"""What the mapping reads from the CRM registry rather than repeating it: the custom
field types each CRM spec names, and the campaign rule kinds its recipients list."""

from __future__ import annotations

import pytest

from integrations.crm.registry import CRMS, RECIPIENTS
from integrations.mapping.custom_fields import custom_field_specs
from integrations.models import CampaignKind
from integrations.models.step_actions import CAMPAIGN_KIND_RECIPIENT

CHECKED_AS = {
    "integer": "whole_number",
    "decimal": "decimal",
    "currency": "currency",
    "date": "date",
    "boolean": "yes_no",
    "choice": "dropdown",
    "text": "text",
}


@pytest.mark.parametrize(
    "raw_type, field_kind",
    [(raw, kind) for spec in CRMS.values() for raw, kind in spec.custom_field_kinds.items()],
)
def test_each_custom_field_type_a_crm_names_is_checked_as_its_kind(raw_type, field_kind):
    catalogue = {"custom_fields": [{"id": 1, "name": "F", "type": raw_type}]}
    expected = CHECKED_AS.get(field_kind)  # email, phone, url: sent as text, unchecked
    if raw_type == "CHECKBOX":
        expected = None  # several options at once: not a single-option check
    assert custom_field_specs(catalogue)["1"].kind == expected


@pytest.mark.parametrize(
    "raw_type, kind",
    [("Year", "whole_number"), ("Text", "text"), ("TextArea", "text"),
     ("LARGE_TEXT", "text"), ("monetary", "currency"), ("Signature", None)],
)  # fmt: skip
def test_types_the_specs_leave_to_the_default_are_still_read(raw_type, kind):
    catalogue = {"custom_fields": [{"id": 1, "name": "F", "type": raw_type}]}
    assert custom_field_specs(catalogue)["1"].kind == kind


def test_campaign_kinds_are_the_recipients_lists_but_tags():
    listed = [
        lst.kind
        for recipient in RECIPIENTS.values()
        for lst in recipient.lists
        if lst.kind != "tag"
    ]
    assert [kind.value for kind in CampaignKind] == list(dict.fromkeys(listed))
    assert set(CAMPAIGN_KIND_RECIPIENT) == set(CampaignKind)
    assert CampaignKind("keap_sequence").label == "Keap REST v1: Campaign sequences"
    assert CampaignKind.KEAP_SEQUENCE == "keap_sequence"
