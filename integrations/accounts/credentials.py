"""An account's credentials, as the CRM clients take them."""

from __future__ import annotations

from integrations.crm.base import Credentials
from integrations.crm.registry import api_base_url
from integrations.models import Account, AuthType


def account_credentials(*, account: Account, recipient: str) -> Credentials:
    """Credentials for one recipient kind. Secrets are decrypted here, in memory only."""
    if account.auth_type == AuthType.API_KEY:
        return Credentials(
            base_url=api_base_url(recipient),
            api_key=account.api_key,
            location_id=account.external_id,
        )
    return Credentials(
        base_url=api_base_url(recipient),
        access_token=account.access_token,
        location_id=account.external_id,
    )
