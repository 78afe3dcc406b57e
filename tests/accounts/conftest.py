import pytest

from integrations.models import AccountStatus
from tests.accounts.helpers import connect, oauth_account, sandbox_reset


@pytest.fixture
def crm(live_server, sandbox_urls, settings):
    """The sandbox CRMs on the live server, reset, with OAuth redirects coming back to
    the live server too."""
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox_reset(live_server)
    return live_server


@pytest.fixture
def keap(crm, admin_client):
    """A Keap OAuth account connected through the sandbox's consent page."""
    account = oauth_account(name="Keap OAuth")
    connect(admin_client, account)
    account.refresh_from_db()
    assert account.status == AccountStatus.CONNECTED
    return account
