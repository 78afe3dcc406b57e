"""The sandbox tenant's fixed catalog: tags, custom fields, campaigns, legacy follow-up
sequences, action sets, lead sources, contact types, users and companies.

The catalog is code, not rows, so a test run that truncates tables cannot lose it and
ids never move. Companies are the exception (contacts create them over XML-RPC's
`Company` field), so the seeded ones are inserted lazily and idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

APP_HOST = "sandbox.infusionsoft.com"  # the tenant host after the pipe in `scope`

TAG_CATEGORIES = {10: "Lead Status", 11: "Lead Source", 12: "Interests"}


@dataclass(frozen=True)
class Tag:
    id: int
    name: str
    category_id: int
    description: str = ""


TAGS = {
    t.id: t
    for t in (
        Tag(100, "New Lead", 10, "Every new lead"),
        Tag(101, "Website Inquiry", 11, "Came through a website form"),
        Tag(102, "Webinar", 11, "Registered for a webinar"),
        Tag(103, "Hot Lead", 10, "Ready for a sales call"),
        Tag(104, "Newsletter", 12, "Wants the newsletter"),
        Tag(105, "Customer", 10, "Has bought"),
    )
}


@dataclass(frozen=True)
class CustomField:
    id: int
    label: str
    field_name: str  # the database Name: XML-RPC addresses it as `_` + this (§5.4)
    field_type: str


CUSTOM_FIELDS = {
    f.id: f
    for f in (
        CustomField(7, "Lead Score", "LeadScore", "WholeNumber"),
        CustomField(8, "UTM Campaign", "UtmCampaign", "Text"),
        CustomField(9, "First Touch", "FirstTouch", "Text"),
        CustomField(10, "Preferred Contact Date", "PreferredContactDate", "Date"),
    )
}
CUSTOM_FIELDS_BY_NAME = {f.field_name: f for f in CUSTOM_FIELDS.values()}


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    sequences: dict[int, str] = field(default_factory=dict)


# REST v1 campaigns and their sequences (POST /v1/campaigns/{c}/sequences/{s}/contacts/{id}).
CAMPAIGNS = {
    45: Campaign(45, "Lead Nurture", {1: "Welcome", 3: "Follow-up Calls"}),
    47: Campaign(47, "Webinar Funnel", {2: "Webinar Reminders"}),
}


@dataclass(frozen=True)
class FollowUpSequence:
    id: int
    name: str
    steps: tuple[int, ...]


# Legacy follow-up sequences: XML-RPC's "campaigns" (ContactService.addToCampaign).
FOLLOWUP_SEQUENCES = {
    200: FollowUpSequence(200, "Welcome Series", (2001, 2002, 2003)),
    201: FollowUpSequence(201, "Re-engagement", (2011, 2012)),
}
STEP_SEQUENCE = {step: seq.id for seq in FOLLOWUP_SEQUENCES.values() for step in seq.steps}


@dataclass(frozen=True)
class Action:
    kind: str  # apply_tag | remove_tag | start_sequence
    target: int


# Action sets for ContactService.runActionSequence.
ACTION_SETS = {
    300: ("Hot lead", (Action("apply_tag", 103), Action("start_sequence", 200))),
    301: ("Clear new-lead tag", (Action("remove_tag", 100),)),
}

# DataService.query("LeadSource", ...) rows, with the field names of §5.3.
LEAD_SOURCES = {
    row["Id"]: row
    for row in (
        {"Id": 1, "Name": "Website", "Medium": "Organic", "LeadSourceCategoryId": 1},
        {"Id": 2, "Name": "Google Ads", "Medium": "Paid Search", "LeadSourceCategoryId": 1},
        {"Id": 3, "Name": "Facebook Ads", "Medium": "Paid Social", "LeadSourceCategoryId": 1},
        {"Id": 4, "Name": "Referral", "Medium": "Word of mouth", "LeadSourceCategoryId": 2},
        {"Id": 5, "Name": "Webinar", "Medium": "Event", "LeadSourceCategoryId": 2},
    )
}
for _row in LEAD_SOURCES.values():
    _row.update(
        {"Description": "", "Vendor": "", "Message": "", "CostPerLead": "0", "Status": "Active"}
    )
LEAD_SOURCE_FIELDS = (
    "Id Name Description StartDate EndDate CostPerLead Vendor Medium Message "
    "LeadSourceCategoryId Status"
).split()

# DataService.getAppSetting("Contact", "optiontypes") and GET /v1/setting/contact/optionTypes.
CONTACT_TYPES = ("Lead", "Prospect", "Customer", "Partner")

USERS = {
    1: {"name": "Sandbox Admin", "email": "admin@sandbox.example"},
    2: {"name": "Sam Sales", "email": "sam@sandbox.example"},
}

COMPANIES = {55: "Acme Corp", 56: "Globex"}


def ensure_companies() -> None:
    """Insert the seeded companies if a truncation removed them. Safe to repeat."""
    from .models import Company

    Company.objects.bulk_create(
        [Company(id=pk, name=name) for pk, name in COMPANIES.items()], ignore_conflicts=True
    )
