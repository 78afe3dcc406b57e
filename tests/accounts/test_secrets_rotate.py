"""Key rotation: `manage.py secrets_rotate` re-encrypts every stored secret with the first
key; until an old key is removed it still decrypts."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Account, AccountStatus
from tests.factories import keap_account, oauth_account, raw_column

pytestmark = pytest.mark.django_db

OLD, NEW = "rotation-key-old", "rotation-key-new"
SECRETS = ("api_key", "access_token", "refresh_token")


@pytest.fixture
def stored(settings):
    """One API-key account and one OAuth account, written under the OLD key."""
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    return (
        keap_account(api_key="KeapAK-secret-key"),
        oauth_account(
            access_token="access-secret",
            refresh_token="refresh-secret",
            status=AccountStatus.CONNECTED,
        ),
    )


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("secrets_rotate", *args, stdout=out)
    return out.getvalue()


def raw(accounts) -> list[str]:
    return [raw_column(a, column) for a in accounts for column in SECRETS]


def readable(settings, keys: list[str], account: Account) -> bool:
    settings.FIELD_ENCRYPTION_KEYS = keys
    try:
        Account.objects.get(pk=account.pk)
    except ValueError:
        return False
    return True


def test_rotation_reencrypts_every_secret_with_the_first_key(settings, stored):
    api, oauth = stored
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert rotate() == "Re-encrypted 3 secrets in 2 rows with the first key; 0 unreadable.\n"
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone: everything still reads
    assert Account.objects.get(pk=api.pk).api_key == "KeapAK-secret-key"
    fresh = Account.objects.get(pk=oauth.pk)
    assert (fresh.access_token, fresh.refresh_token) == ("access-secret", "refresh-secret")
    assert not readable(settings, [OLD], api) and not readable(settings, [OLD], oauth)


def test_old_keys_still_decrypt_until_they_are_removed(settings, stored):
    api, _ = stored
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert Account.objects.get(pk=api.pk).api_key == "KeapAK-secret-key"
    # New writes use the first key at once.
    newer = keap_account(api_key="KeapAK-newer")
    assert readable(settings, [NEW], newer)
    # Not rotated, and the old key removed: the secret can no longer be read.
    assert not readable(settings, [NEW], api)


def test_a_dry_run_counts_but_writes_nothing(settings, stored):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    before = raw(stored)
    assert rotate("--dry-run") == (
        "Would re-encrypt 3 secrets in 2 rows with the first key; 0 unreadable.\n"
    )
    assert raw(stored) == before
    assert not readable(settings, [NEW], stored[0])


def test_secrets_no_key_can_read_are_left_alone_and_fail_the_command(settings, stored):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key was dropped too early
    before = raw(stored)
    with pytest.raises(CommandError, match="3 secrets could not be decrypted"):
        rotate()
    assert raw(stored) == before
    assert readable(settings, [OLD], stored[0])


def test_the_command_explains_itself():
    from integrations.management.commands.secrets_rotate import Command

    assert "first key of FIELD_ENCRYPTION_KEYS" in Command.help
