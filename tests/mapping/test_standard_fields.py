"""The 17 LeadConduit fields land in CRM-neutral contact fields; hand mappings add more."""

from datetime import date

import pytest

from integrations.mapping.normalise import LeadInvalid, lead_fields
from integrations.mapping.standard_fields import MappingSkip, contact_from_lead
from tests.factories import FULL_LEAD


def test_every_standard_field_is_mapped_automatically():
    contact = contact_from_lead(lead_fields(FULL_LEAD, max_field_chars=10_000))
    assert (contact.first_name, contact.middle_name, contact.last_name, contact.suffix) == (
        "Ann",
        "Q",
        "Lee",
        "Jr",
    )
    assert contact.email == "ann.lee@example.com"
    assert contact.phones == ["+16025550101", "+14805550102", "+16235550103"]
    assert (contact.address_line1, contact.address_line2, contact.city) == (
        "1 Main St",
        "Suite 5",
        "Phoenix",
    )
    assert (contact.region_code, contact.region_name) == ("US-AZ", "Arizona")
    assert (contact.country_alpha2, contact.country_alpha3) == ("US", "USA")
    assert contact.postal_code == "85001"
    assert contact.website == "https://ann.example.com"
    assert contact.notes == "Wants a call after 5pm"
    assert contact.job_title == "CTO"
    assert contact.birthday == date(1990, 9, 25)


@pytest.mark.parametrize("state, code", [("Texas", "US-TX"), ("tx", "US-TX"), ("US-TX", "US-TX")])
def test_a_state_is_recognised_by_code_or_name(state, code):
    assert contact_from_lead({"email": "a@b.co", "state": state}).region_code == code


def test_a_country_other_than_the_us_resolves_its_own_regions():
    contact = contact_from_lead({"email": "a@b.co", "state": "Ontario", "country": "Canada"})
    assert (contact.region_code, contact.country_alpha3) == ("CA-ON", "CAN")


def test_an_unknown_state_is_kept_as_written_without_a_code():
    contact = contact_from_lead({"email": "a@b.co", "state": "Atlantis"})
    assert (contact.region_code, contact.region_name) == ("", "Atlantis")


@pytest.mark.parametrize("dob", ["1990-09-25", "09/25/1990", "1990/09/25", "1990-09-25T00:00:00Z"])
def test_dates_of_birth_are_read_in_common_formats(dob):
    assert contact_from_lead({"email": "a@b.co", "dob": dob}).birthday == date(1990, 9, 25)


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"email": "not-an-email"}, "invalid email"),
        ({"first_name": "Ann"}, "email or phone required"),
        ({"email": "a@b.co", "dob": "someday"}, "invalid date of birth"),
    ],
)
def test_a_lead_that_cannot_be_sent_is_skipped_with_a_fixed_reason(fields, reason):
    with pytest.raises(MappingSkip) as skip:
        contact_from_lead(fields)
    assert skip.value.reason == reason


def test_a_phone_alone_is_enough():
    assert contact_from_lead({"phone_1": "602-555-0101"}).phones == ["+16025550101"]


def test_hand_mappings_fill_custom_fields_templates_and_crm_native_fields():
    fields = {
        "email": "a@b.co",
        "first_name": "Ann",
        "last_name": "Lee",
        "score": 87,
        "utm": {"campaign": "spring"},
    }
    contact = contact_from_lead(
        fields,
        [
            ("score", "custom:7"),
            ("{{lead.first_name}} {{last_name}}", "custom:9"),
            ("utm.campaign", "custom:8"),
            ("{{first_name}}", "contact_type"),
            ("missing_field", "owner_id"),
            ("score", "job_title"),
        ],
    )
    assert contact.custom_fields == {"7": 87, "9": "Ann Lee", "8": "spring"}
    assert contact.extra == {"contact_type": "Ann"}
    assert contact.job_title == "87"


def test_normalising_folds_keys_and_trims_values():
    assert lead_fields(
        {" First Name ": " Ann ", "E-Mail": "X@Y.CO", "email": "A@B.CO"}, max_field_chars=100
    ) == {"first_name": "Ann", "e_mail": "X@Y.CO", "email": "a@b.co"}


def test_nested_oversize_values_are_rejected_by_field():
    with pytest.raises(LeadInvalid) as invalid:
        lead_fields({"utm": {"campaign": "x" * 11}}, max_field_chars=10)
    assert list(invalid.value.fields) == ["utm"]
