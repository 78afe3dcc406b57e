"""The sandbox's fixed catalogue: one location with custom fields, workflows, campaigns
and users. Created lazily on first use and safe to run again, because test runs
truncate the tables between tests.

Every API request starts with ensure_seeded(), so the process remembers the location
once it is committed, and asks the database again after forget(): the sandbox's reset,
a change of the location's settings (_control/location), or a flush (post_migrate, as
test runs empty the tables). A generation in the cache tells the other processes
sharing that cache. The memo is set only on commit, so a seeding rolled back (a test's
transaction) is never remembered.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction

from .models import Campaign, CustomField, Location, User, Workflow

COMPANY_ID = "sandboxCompany000001"
LOCATION_NAME = "LeadFlow Sandbox"

USER_OWNER_ID = "sandboxUser000000001"
USER_AGENT_ID = "sandboxUser000000002"

CUSTOM_FIELD_LEAD_SCORE = "sbxCfLeadScore000001"
CUSTOM_FIELD_UTM_CAMPAIGN = "sbxCfUtmCampaign0001"
CUSTOM_FIELD_INTERESTS = "sbxCfInterests000001"

# Workflow ids are UUIDs in the official examples (apps/workflows.json), not 20-char ids.
WORKFLOW_NEW_LEAD = "5a1b0c1e-0000-4000-8000-000000000001"
WORKFLOW_HOT_LEAD = "5a1b0c1e-0000-4000-8000-000000000002"
WORKFLOW_DRAFT = "5a1b0c1e-0000-4000-8000-000000000003"

CAMPAIGN_WELCOME = "sbxCampaignWelcome01"
CAMPAIGN_REENGAGE = "sbxCampaignReengag01"

_CUSTOM_FIELDS = [
    (CUSTOM_FIELD_LEAD_SCORE, "Lead Score", "contact.lead_score", "NUMERICAL", []),
    (CUSTOM_FIELD_UTM_CAMPAIGN, "UTM Campaign", "contact.utm_campaign", "TEXT", []),
    (
        CUSTOM_FIELD_INTERESTS,
        "Interests",
        "contact.interests",
        "MULTIPLE_OPTIONS",
        ["Solar", "Roofing", "Windows"],
    ),
]
_WORKFLOWS = [
    (WORKFLOW_NEW_LEAD, "New lead nurture", "published"),
    (WORKFLOW_HOT_LEAD, "Hot lead alert", "published"),
    (WORKFLOW_DRAFT, "Unfinished draft", "draft"),
]
_CAMPAIGNS = [
    (CAMPAIGN_WELCOME, "Welcome sequence", "published"),
    (CAMPAIGN_REENGAGE, "Re-engagement", "published"),
]
_USERS = [
    (USER_OWNER_ID, "Sandy", "Owner", "owner@sandbox.example", "admin"),
    (USER_AGENT_ID, "Alex", "Agent", "agent@sandbox.example", "user"),
]


def location_id() -> str:
    return settings.SANDBOX_HIGHLEVEL_LOCATION_ID


_GENERATION = "sandbox_highlevel:location_generation"
# (cache generation, location id, the location), or None: replaced whole, never mutated,
# so the server's threads read it without a lock.
_memo: tuple[str | None, str, Location] | None = None


def ensure_seeded() -> Location:
    """Return the sandbox location, creating it and its catalogue if missing."""
    generation = cache.get(_GENERATION)
    memo = _memo
    if memo is not None and memo[:2] == (generation, location_id()):
        return memo[2]
    location = _load_or_create()
    transaction.on_commit(lambda: _remember(generation, location))
    return location


def forget(**_signal_kwargs: object) -> None:
    """Make every process sharing the cache read the location again on its next use."""
    global _memo
    _memo = None
    cache.set(_GENERATION, uuid.uuid4().hex, None)


def _remember(generation: str | None, location: Location) -> None:
    global _memo
    if cache.get(_GENERATION) == generation:  # no forget() since it was read
        _memo = (generation, location.pk, location)


def _load_or_create() -> Location:
    location = Location.objects.filter(pk=location_id()).first()
    if location is not None:
        return location
    try:
        with transaction.atomic():
            return _create()
    except IntegrityError:  # another request seeded it first
        return Location.objects.get(pk=location_id())


def _create() -> Location:
    location = Location.objects.create(id=location_id(), company_id=COMPANY_ID, name=LOCATION_NAME)
    CustomField.objects.bulk_create(
        CustomField(
            id=fid,
            location=location,
            name=name,
            field_key=key,
            data_type=kind,
            position=n,
            picklist_options=options,
        )
        for n, (fid, name, key, kind, options) in enumerate(_CUSTOM_FIELDS)
    )
    Workflow.objects.bulk_create(
        Workflow(id=wid, location=location, name=name, status=status)
        for wid, name, status in _WORKFLOWS
    )
    Campaign.objects.bulk_create(
        Campaign(id=cid, location=location, name=name, status=status)
        for cid, name, status in _CAMPAIGNS
    )
    User.objects.bulk_create(
        User(id=uid, location=location, first_name=first, last_name=last, email=email, role=role)
        for uid, first, last, email, role in _USERS
    )
    return location
