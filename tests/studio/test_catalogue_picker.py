"""The catalogue picker: Django's own `<select>` (same name, options, posted values),
each option carrying the id a type-ahead shows beside its name."""

from __future__ import annotations

import re

from django import forms

from integrations.admin.catalogue_picker import CataloguePicker
from integrations.studio.choices import choice_ref, target_ref

CHOICES = [
    ("", "—"),
    ("999", "Gone (not in the catalogue)"),
    ("Custom fields", [("custom:7", "Lead Score (whole number)"), ("custom:8", "A & <b>\"'")]),
    ("Standard fields", [("phone_1", "Phone 1 (instead of lead.phone_1)")]),
]


def without_whitespace_between_tags(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


def test_it_renders_the_select_django_renders_plus_ids_and_flags():
    attrs = {"id": "id_target", "required": True, "disabled": False}
    ours = CataloguePicker(choices=CHOICES, ref=lambda value, label: "").render(
        "target", "custom:8", attrs
    )
    django = forms.Select(choices=CHOICES).render("target", "custom:8", attrs)
    ours_plain = re.sub(r' (?:class|lang|data-[a-z-]+)="[^"]*"', "", ours)
    assert without_whitespace_between_tags(ours_plain) == without_whitespace_between_tags(django)
    assert "&lt;b&gt;&quot;&#x27;" in ours  # a name is escaped


def test_each_option_carries_the_id_shown_beside_its_name():
    html = CataloguePicker(choices=CHOICES, ref=target_ref).render("target", "999")
    assert '<option value="custom:7" data-ref="7">Lead Score (whole number)</option>' in html
    assert '<option value="phone_1">Phone 1' in html  # a standard field has no CRM id
    assert '<option value="999" selected data-missing="true">Gone' in html
    assert 'class="catalogue-picker"' in html and 'data-theme="admin-autocomplete"' in html


def test_the_id_beside_a_name_is_the_crm_id_in_the_stored_value():
    assert choice_ref("103", "Hot Lead") == "103"  # a tag by id
    assert choice_ref("Hot Lead", "Hot Lead") == ""  # a tag kept by name (HighLevel)
    assert choice_ref("custom:_LeadScore", "Lead Score (whole number)") == "_LeadScore"
    assert choice_ref("keap_sequence|45|1", "Lead Nurture › Welcome") == "45 › 1"
    assert choice_ref("highlevel_workflow|wf_7|", "Nurture") == "wf_7"
    assert target_ref("owner_id", "Owner") == ""
