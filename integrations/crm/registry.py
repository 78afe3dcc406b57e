"""The CRMs this build knows: one table of CrmSpecs, and the look-ups built on it.

Adding a CRM: one spec module in crm/ (its recipients, OAuth app, catalogue fetch and
fields), one sandbox app in sandbox/, and one entry in `CRMS` below. The models'
choices (CrmKind, Recipient, RECIPIENT_CRM), the OAuth apps, the catalogue fetch and
the step editor's pickers are all read from here.
"""

from __future__ import annotations

from django.conf import settings

from .base import RecipientClient
from .highlevel_spec import HIGHLEVEL
from .keap_spec import KEAP
from .spec import CrmSpec, RecipientSpec

CRMS: dict[str, CrmSpec] = {spec.kind: spec for spec in (KEAP, HIGHLEVEL)}

RECIPIENTS: dict[str, RecipientSpec] = {
    recipient.kind: recipient for spec in CRMS.values() for recipient in spec.recipients
}
# recipient kind -> the kind of CRM it delivers to
RECIPIENT_CRMS: dict[str, str] = {
    recipient.kind: spec.kind for spec in CRMS.values() for recipient in spec.recipients
}


def crm_spec(kind: str) -> CrmSpec:
    """Raises KeyError for an unknown CRM."""
    return CRMS[kind]


def recipient_spec(kind: str) -> RecipientSpec:
    """Raises KeyError for an unknown recipient kind."""
    return RECIPIENTS[kind]


def crm_of_recipient(kind: str) -> CrmSpec:
    return CRMS[RECIPIENT_CRMS[kind]]


def recipient_for(kind: str) -> RecipientClient:
    """A client for one recipient kind. Raises KeyError for an unknown kind."""
    return RECIPIENTS[kind].client()


def crm_base_url(crm: str) -> str:
    """The CRM's API base URL, read from settings at call time."""
    return str(getattr(settings, CRMS[crm].api_base_url_setting)).rstrip("/")


def api_base_url(kind: str) -> str:
    """The API base URL a recipient kind calls."""
    return crm_base_url(RECIPIENT_CRMS[kind])


def crm_label(kind: str) -> str:
    """The CRM's short name for messages ("Keap"); the kind itself when unknown."""
    spec = CRMS.get(kind)
    return spec.short_label if spec else kind


def crm_choices() -> list[tuple[str, str]]:
    return [(spec.kind, spec.label) for spec in CRMS.values()]


def recipient_choices() -> list[tuple[str, str]]:
    return [(r.kind, r.label) for r in RECIPIENTS.values()]
