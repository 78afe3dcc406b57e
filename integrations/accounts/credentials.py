"""An account's credentials, as the CRM clients take them: the one place that picks
which stored secret a call uses, so delivery and Test connection never disagree."""

from __future__ import annotations

from integrations.crm.base import Credentials
from integrations.crm.registry import api_base_url, crm_base_url
from integrations.models import Account, AuthType


def account_credentials(*, account: Account, recipient: str = "") -> Credentials:
    """Credentials for the account (for one recipient kind when given: its base URL).

    The secret is picked by `auth_type`: an API-key account sends its key, an OAuth
    account its access token — never a key left over from before it was switched to
    OAuth. Secrets are decrypted here, in memory only.
    """
    base_url = api_base_url(recipient) if recipient else crm_base_url(account.crm)
    if account.auth_type == AuthType.API_KEY:
        return Credentials(
            base_url=base_url, api_key=account.api_key, location_id=account.external_id
        )
    return Credentials(
        base_url=base_url, access_token=account.access_token, location_id=account.external_id
    )
