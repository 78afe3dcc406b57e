"""The OAuth token lifecycle: refresh exactly once per token generation, however many
workers notice the expiry at the same moment, and never lose a rotated refresh token.

Keap and HighLevel refresh tokens are single-use: each refresh returns a new one and
kills the old (crm-wire-spec.md §1.1, §6.2). Two workers refreshing with the same
token means one of them burns it and the account is dead until a human reconnects
it — the most common Keap integration failure. So:

- refreshers of one account are serialised (a row lock, see `_account_locked`);
- whoever gets the lock second sees that `token_generation` moved on and uses the
  new token instead of refreshing again;
- the new refresh token is written in the same transaction that holds the lock while
  the old one is spent, so there is no moment where the old one is gone and the new one
  is not stored.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations.crm.base import CrmError
from integrations.models import Account, AccountStatus, AuthType

from .oauth import OAuthError, TokenSet, oauth_token_refresh

log = logging.getLogger(__name__)

T = TypeVar("T")

# Refresh before a call when the access token has less than this left: a token that
# expires in flight costs a 401 and a second round trip.
REFRESH_BEFORE_CALL = timedelta(minutes=5)
# The periodic task refreshes tokens expiring within this window.
REFRESH_AHEAD = timedelta(hours=1)


class TokenRefreshRejected(CrmError):
    """The CRM refused the refresh token: the account now needs a reconnect."""

    def __init__(self, reason: str = "account needs reconnect"):
        super().__init__(reason, retryable=False, auth=True)


class TokenRefreshFailed(CrmError):
    """The token endpoint could not be reached or failed (5xx, 429): try again later."""

    def __init__(self, reason: str = "token refresh failed"):
        super().__init__(reason, retryable=True)


def account_token_expiring(account: Account, *, within: timedelta) -> bool:
    """Whether an OAuth account's access token expires within `within` (or has)."""
    return (
        account.auth_type == AuthType.OAUTH
        and account.token_expires_at is not None
        and account.token_expires_at <= timezone.now() + within
    )


def account_store_tokens(*, account: Account, tokens: TokenSet) -> None:
    """Save a new token set as the next generation, and mark the account connected.
    The caller holds the account's row lock (a refresh, or a completed consent)."""
    account.access_token = tokens.access_token
    account.refresh_token = tokens.refresh_token
    account.token_expires_at = tokens.expires_at
    account.token_generation += 1
    account.status = AccountStatus.CONNECTED
    account.last_error = ""
    if tokens.external_id:
        account.external_id = tokens.external_id
    account.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "token_expires_at",
            "token_generation",
            "status",
            "last_error",
            "external_id",
            "updated_at",
        ]
    )


def account_token_refresh(*, account_id: int, seen_generation: int) -> Account:
    """Make sure the account has a newer token than generation `seen_generation`.

    Returns the account with its current tokens: freshly refreshed by this call, or
    already refreshed by someone else since `seen_generation` (then no request is made).
    Raises TokenRefreshRejected when the CRM refused the refresh token (the account is
    then marked needs_reconnect, with last_error) or the account already needs a
    reconnect; TokenRefreshFailed when the token endpoint failed transiently.
    Safe to call from many processes at once: at most one refresh per generation.
    """
    rejected: OAuthError | None = None
    with _account_locked(account_id) as account:
        if account.token_generation != seen_generation:
            return account  # someone refreshed (or reconnected) while we waited
        if account.status == AccountStatus.NEEDS_RECONNECT:
            raise TokenRefreshRejected()
        if account.auth_type != AuthType.OAUTH or not account.refresh_token:
            raise TokenRefreshRejected("account has no refresh token")
        try:
            tokens = oauth_token_refresh(crm=account.crm, refresh_token=account.refresh_token)
        except OAuthError as exc:
            if not exc.rejected:
                log.warning("account %s: token refresh failed: %s", account.pk, exc.reason)
                raise TokenRefreshFailed() from None
            rejected = exc
            account.status = AccountStatus.NEEDS_RECONNECT
            account.last_error = f"refresh token rejected: {exc.reason}"[:200]
            account.save(update_fields=["status", "last_error", "updated_at"])
        else:
            account_store_tokens(account=account, tokens=tokens)
    # Raised outside the lock's transaction, so the needs_reconnect mark is committed.
    if rejected is not None:
        log.warning("account %s: refresh token rejected (%s)", account_id, rejected.reason)
        raise TokenRefreshRejected()
    log.info("account %s: access token refreshed (generation %s)", account_id, seen_generation + 1)
    return account


def account_call_with_refresh(*, account: Account, call: Callable[[Account], T]) -> T:
    """Run `call(account)`, keeping an OAuth account's token fresh around it.

    Before the call, an access token that is expired or about to expire is refreshed.
    Otherwise, if the call raises an auth CrmError (a 401), the token is refreshed once
    — for the generation the call used — and the call is made once more. Raises what
    `call` raises, TokenRefreshRejected or TokenRefreshFailed.
    """
    if account.auth_type != AuthType.OAUTH:
        return call(account)
    used = account.token_generation
    if account_token_expiring(account, within=REFRESH_BEFORE_CALL):
        try:
            account = account_token_refresh(account_id=account.pk, seen_generation=used)
        except TokenRefreshFailed:
            if account.token_expires_at is None or account.token_expires_at <= timezone.now():
                raise
            # The token endpoint is down but our token still has minutes left: use it.
    try:
        return call(account)
    except CrmError as exc:
        # One refresh per call: a 401 right after a refresh is not an expired token.
        if not exc.auth or account.token_generation != used:
            raise
    account = account_token_refresh(account_id=account.pk, seen_generation=used)
    return call(account)


def accounts_refresh_expiring(*, within: timedelta = REFRESH_AHEAD) -> int:
    """Refresh every connected OAuth account whose token expires within `within`.
    Returns how many were refreshed. One account's failure does not stop the others."""
    due = Account.objects.filter(
        auth_type=AuthType.OAUTH,
        status=AccountStatus.CONNECTED,
        token_expires_at__lte=timezone.now() + within,
    ).values_list("pk", "token_generation")
    refreshed = 0
    for account_id, generation in due:
        try:
            account_token_refresh(account_id=account_id, seen_generation=generation)
        except (TokenRefreshRejected, TokenRefreshFailed):
            continue  # already logged; deliveries will hold or retry on their own
        refreshed += 1
    return refreshed


@contextmanager
def _account_locked(account_id: int) -> Iterator[Account]:
    """Yield the account with every other refresher of it shut out until the block ends.

    PostgreSQL (and any database with row locks): SELECT ... FOR UPDATE in a
    transaction that stays open across the token request. This is the one deliberate
    network call inside a transaction: the lock must cover the moment the old refresh
    token is spent, and the new one is saved before the lock is released. It holds one
    account row only, for at most the token endpoint's timeout.

    SQLite has no row locks: a write transaction locks the whole file, and the built-in
    sandbox answering the token request writes to the same file, so holding one across
    the request would deadlock. SQLite also means one machine, where an exclusive file
    lock per account is the equivalent; the saves then commit on their own.
    """
    if connection.vendor == "sqlite":
        lock_dir = Path(settings.VAR_DIR) / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / f"account-{account_id}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield Account.objects.get(pk=account_id)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with transaction.atomic():
        yield Account.objects.select_for_update().get(pk=account_id)
