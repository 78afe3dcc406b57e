"""Connect / reconnect an OAuth account: send the user to the CRM's consent page and
take the answer at the callback.

`state` is random, single-use and bound to the user's session: it is stored in the
session when the user presses Connect and removed the first time the callback sees it.
A callback whose state is missing, unknown (forged, another session's) or already
used changes nothing. Every outcome lands on an admin page with a message that says
what happened; none of them quotes a token or a code.
"""

from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from integrations.audit.services import audit_record
from integrations.crm.registry import crm_label
from integrations.models import Account, AuditAction, AuthType

from .oauth import OAuthError, oauth_authorize_url, oauth_code_exchange
from .services import account_connect

log = logging.getLogger(__name__)

SESSION_KEY = "oauth_pending"
STATE_TTL_SECONDS = 15 * 60
MAX_PENDING = 5  # a few tabs at once; older states are dropped


def _account_page(account_id: int) -> str:
    return reverse("admin:integrations_account_change", args=[account_id])


def _accounts_page() -> str:
    return reverse("admin:integrations_account_changelist")


def _redirect_uri() -> str:
    # The public URL, not the Host header: it must match what is registered with the CRM.
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("oauth:callback")


def _pending(request: HttpRequest) -> dict[str, dict]:
    now = time.time()
    pending = request.session.get(SESSION_KEY, {})
    return {s: p for s, p in pending.items() if now - p.get("at", 0) < STATE_TTL_SECONDS}


def _state_issue(request: HttpRequest, account: Account) -> str:
    state = secrets.token_urlsafe(32)
    pending = _pending(request)
    pending[state] = {"account": account.pk, "crm": account.crm, "at": time.time()}
    newest = sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:]
    request.session[SESSION_KEY] = dict(newest)
    return state


def _state_take(request: HttpRequest, state: str) -> dict | None:
    """The pending connect this state belongs to, removed so it cannot be used twice."""
    pending = _pending(request)
    found = pending.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending
    return found


def _can_change(request: HttpRequest) -> bool:
    return request.user.has_perm("integrations.change_account")


@staff_member_required
@require_POST
def connect(request: HttpRequest, account_id: int) -> HttpResponse:
    """Start (or restart) the OAuth consent for one account."""
    account = get_object_or_404(Account, pk=account_id)
    if not _can_change(request):
        messages.error(request, "You may not change accounts.")
        return HttpResponseRedirect(_account_page(account.pk))
    if account.auth_type != AuthType.OAUTH:
        messages.error(request, "This account uses an API key: there is nothing to connect.")
        return HttpResponseRedirect(_account_page(account.pk))
    try:
        url = oauth_authorize_url(
            crm=account.crm, redirect_uri=_redirect_uri(), state=_state_issue(request, account)
        )
    except OAuthError as exc:
        messages.error(request, f"Cannot connect: {exc.reason}.")
        return HttpResponseRedirect(_account_page(account.pk))
    return HttpResponseRedirect(url)


@staff_member_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Where the CRM sends the user back, with ?code=&state= or ?error=&state=."""
    state = request.GET.get("state", "")
    pending = _state_take(request, state)
    error = request.GET.get("error", "")
    if error:
        # Keap may send the denial with an empty state (§1.1, K11 #115): then we cannot
        # tell which account it was for, and there is nothing to change anyway.
        label = _label(pending)
        if error == "access_denied":
            text = f"{label} access was denied on the consent page."
        else:
            text = f"{label} did not grant access ({_safe(error)})."
        messages.error(request, f"{text} The account was not changed.")
        return HttpResponseRedirect(
            _account_page(pending["account"]) if pending else _accounts_page()
        )
    if not state:
        messages.error(
            request,
            "The CRM's answer had no state, so it was ignored. "
            "The account was not changed; press Connect to try again.",
        )
        return HttpResponseRedirect(_accounts_page())
    if pending is None:
        messages.error(
            request,
            "The CRM's answer had an unknown or already used state "
            "(expired, forged or replayed), so it was ignored. The account was not "
            "changed; press Connect to try again.",
        )
        return HttpResponseRedirect(_accounts_page())
    account = Account.objects.filter(pk=pending["account"], crm=pending["crm"]).first()
    if account is None:
        messages.error(request, "The account being connected no longer exists.")
        return HttpResponseRedirect(_accounts_page())
    code = request.GET.get("code", "")
    if not code:
        messages.error(
            request, f"{_label(pending)} sent no authorization code. The account was not changed."
        )
        return HttpResponseRedirect(_account_page(account.pk))
    try:
        tokens = oauth_code_exchange(crm=account.crm, code=code, redirect_uri=_redirect_uri())
    except OAuthError as exc:
        log.warning("account %s: code exchange failed: %s", account.pk, exc.reason)
        messages.error(request, f"{_label(pending)}: {exc.reason}. The account was not changed.")
        return HttpResponseRedirect(_account_page(account.pk))
    account, released = account_connect(account_id=account.pk, tokens=tokens)
    audit_record(
        actor=request.user,
        action=AuditAction.RECONNECT,
        summary=f"account {account.name} connected to {_label(pending)}",
        object_type="integrations.account",
        object_id=account.pk,
    )
    where = f" ({account.external_id})" if account.external_id else ""
    text = f"Connected to {_label(pending)}{where}."
    if released:
        text += f" {released} held deliver{'y' if released == 1 else 'ies'} released."
    messages.success(request, text)
    return HttpResponseRedirect(_account_page(account.pk))


def _label(pending: dict | None) -> str:
    return crm_label(pending["crm"]) if pending else "The CRM"


def _safe(code: str) -> str:
    """An error code from the query string, shown only if it looks like one."""
    return code if code.replace("_", "").isalnum() and len(code) <= 40 else "error"
