"""Which client serves which recipient kind, and where its API lives.

Adding a CRM: one module in crm/, one sandbox in sandbox/, and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from .base import RecipientClient
from .highlevel import HighLevelRecipient
from .keap_rest import KeapRestRecipient
from .keap_xmlrpc import KeapXmlRpcRecipient

# recipient kind -> (client class, settings name of its API base URL)
RECIPIENTS: dict[str, tuple[type[RecipientClient], Callable[[], str]]] = {
    "keap_rest": (KeapRestRecipient, lambda: settings.KEAP_API_BASE_URL),
    "keap_xmlrpc": (KeapXmlRpcRecipient, lambda: settings.KEAP_API_BASE_URL),
    "highlevel": (HighLevelRecipient, lambda: settings.HIGHLEVEL_API_BASE_URL),
}


def recipient_for(kind: str) -> RecipientClient:
    """Raises KeyError for an unknown kind."""
    return RECIPIENTS[kind][0]()


def api_base_url(kind: str) -> str:
    return RECIPIENTS[kind][1]().rstrip("/")
