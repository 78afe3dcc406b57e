"""ContactData -> Keap XML-RPC field names (crm-wire-spec §5.4, §5.5). No I/O."""

import xmlrpc.client
from datetime import date

import pytest

from integrations.crm.base import ContactData
from integrations.crm.keap_xmlrpc_fields import contact_fields


def a_contact(**overrides) -> ContactData:
    values = dict(
        first_name="Ada",
        middle_name="B",
        last_name="Lovelace",
        suffix="III",
        email="ada@example.com",
        phones=["+15125550100", "+15125550101", "+15125550102"],
        address_line1="1 Main St",
        address_line2="Suite 2",
        city="Austin",
        region_code="US-TX",
        region_name="Texas",
        postal_code="78701",
        country_alpha2="US",
        country_alpha3="USA",
        website="https://ada.example.com",
        notes="Wants a call",
        job_title="Analyst",
        birthday=date(1990, 9, 25),
        company="Engines Ltd",
    )
    values.update(overrides)
    return ContactData(**values)


def test_standard_fields_use_keap_xmlrpc_names():
    data = contact_fields(a_contact())

    assert data == {
        "FirstName": "Ada",
        "MiddleName": "B",
        "LastName": "Lovelace",
        "Suffix": "III",
        "Email": "ada@example.com",
        "Phone1": "+15125550100",
        "Phone2": "+15125550101",
        "Phone3": "+15125550102",
        "StreetAddress1": "1 Main St",
        "StreetAddress2": "Suite 2",
        "City": "Austin",
        "State": "Texas",
        "PostalCode": "78701",
        "Country": "United States",
        "Website": "https://ada.example.com",
        "JobTitle": "Analyst",
        "Birthday": xmlrpc.client.DateTime("19900925T00:00:00"),
        "ContactNotes": "Wants a call",
        "Company": "Engines Ltd",
    }


def test_a_shipping_address_goes_into_the_second_address_slot():
    data = contact_fields(a_contact(), address_type="SHIPPING")

    shipping = ("Address2Street1", "Address2Street2", "City2", "State2", "PostalCode2", "Country2")
    assert [data[k] for k in shipping] == [
        "1 Main St",
        "Suite 2",
        "Austin",
        "Texas",
        "78701",
        "United States",
    ]
    assert not {"StreetAddress1", "City", "State", "PostalCode", "Country"} & data.keys()


def test_an_other_address_goes_into_the_third_address_slot():
    data = contact_fields(a_contact(), address_type="OTHER")

    assert data["Address3Street1"] == "1 Main St"
    assert data["Address3Street2"] == "Suite 2"
    assert (data["City3"], data["State3"], data["PostalCode3"]) == ("Austin", "Texas", "78701")
    assert data["Country3"] == "United States"
    assert "StreetAddress1" not in data and "Address2Street1" not in data


def test_an_unknown_address_type_is_refused():
    with pytest.raises(ValueError):
        contact_fields(a_contact(), address_type="HOME")


def test_empty_values_are_left_out_rather_than_sent_as_nil():
    contact = ContactData(email="ada@example.com", extra={"OwnerID": None, "ContactType": ""})

    data = contact_fields(contact)

    assert data == {"Email": "ada@example.com"}
    assert "<nil/>" not in xmlrpc.client.dumps((data,), "ContactService.add")


def test_a_default_country_without_an_address_is_not_sent():
    data = contact_fields(ContactData(email="ada@example.com", country_alpha2="US"))

    assert "Country" not in data


def test_the_birthday_is_sent_as_an_xmlrpc_datetime_at_midnight():
    body = xmlrpc.client.dumps((contact_fields(a_contact()),), "ContactService.add")

    assert "<dateTime.iso8601>19900925T00:00:00</dateTime.iso8601>" in body


def test_custom_fields_are_named_with_a_leading_underscore_once():
    contact = ContactData(
        email="ada@example.com", custom_fields={"FavouriteColour": "blue", "_Score": 7}
    )

    data = contact_fields(contact)

    assert data["_FavouriteColour"] == "blue"
    assert data["_Score"] == 7
    assert "__Score" not in data


def test_extra_fields_pass_through_under_their_keap_names_and_win():
    contact = a_contact(
        extra={
            "OwnerID": 12,
            "ContactType": "Prospect",
            "LeadSourceId": 9,
            "Email": "override@example.com",
        }
    )

    data = contact_fields(contact)

    assert (data["OwnerID"], data["ContactType"], data["LeadSourceId"]) == (12, "Prospect", 9)
    assert data["Email"] == "override@example.com"


def test_integers_too_big_for_xmlrpc_are_sent_as_text():
    contact = ContactData(email="ada@example.com", custom_fields={"Account": 15125550100})

    data = contact_fields(contact)

    assert data["_Account"] == "15125550100"
    xmlrpc.client.dumps((data,), "ContactService.add")  # would raise OverflowError


def test_a_date_custom_field_is_sent_as_an_xmlrpc_datetime():
    contact = ContactData(email="ada@example.com", custom_fields={"Renewal": date(2025, 1, 31)})

    assert contact_fields(contact)["_Renewal"] == xmlrpc.client.DateTime("20250131T00:00:00")
