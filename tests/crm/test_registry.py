"""Adding a CRM is one spec module, one sandbox app and one registry entry: everything
else that names CRMs reads the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import override_settings

from integrations.accounts.oauth import OAuthError, oauth_app
from integrations.crm import registry
from integrations.crm.spec import FIELD_KINDS
from integrations.models import RECIPIENT_CRM, Account, CrmKind, Recipient, Step

ROOT = Path(__file__).resolve().parents[2]


def test_model_choices_come_from_the_registry():
    assert CrmKind.choices == [(s.kind, s.label) for s in registry.CRMS.values()]
    assert Account._meta.get_field("crm").choices == CrmKind.choices
    expected = [(r.kind, r.label) for s in registry.CRMS.values() for r in s.recipients]
    assert Recipient.choices == expected
    assert Step._meta.get_field("recipient").choices == expected
    assert {str(k): str(v) for k, v in RECIPIENT_CRM.items()} == registry.RECIPIENT_CRMS


def test_oauth_apps_come_from_the_registry(settings):
    for spec in registry.CRMS.values():
        assert spec.oauth is not None
        app = oauth_app(spec.kind)
        prefix = spec.oauth.settings_prefix
        assert app.token_url == getattr(settings, f"{prefix}_TOKEN_URL")
        assert app.authorize_url == getattr(settings, f"{prefix}_AUTHORIZE_URL")
        assert app.scope == spec.oauth.scopes
        assert app.refresh_with_basic_auth == spec.oauth.refresh_with_basic_auth
    with pytest.raises(OAuthError):
        oauth_app("no-such-crm")


def test_an_oauth_app_follows_its_settings_at_call_time():
    with override_settings(KEAP_TOKEN_URL="https://crm.example/token"):
        assert oauth_app("keap").token_url == "https://crm.example/token"


def test_catalogue_fetches_and_recipients_come_from_the_registry(monkeypatch):
    from integrations.accounts import catalogue

    seen = []
    for spec in registry.CRMS.values():
        assert callable(spec.fetch_catalogue)
        for recipient in spec.recipients:
            assert registry.recipient_for(recipient.kind).kind == recipient.kind
            assert registry.crm_of_recipient(recipient.kind) is spec

    # The connection test calls whatever the registry holds for the account's CRM.
    fake = registry.CRMS["keap"].__class__(
        **{**registry.CRMS["keap"].__dict__, "fetch_catalogue": lambda c, h: seen.append(c) or {}}
    )
    monkeypatch.setitem(registry.CRMS, "keap", fake)
    account = Account(pk=1, name="K", crm="keap", auth_type="api_key", api_key="k")
    monkeypatch.setattr(catalogue.Account.objects, "get", lambda pk: account)
    monkeypatch.setattr(catalogue.Account.objects, "filter", lambda **kw: _NoUpdate())
    assert catalogue.account_connection_test(account_id=1).ok
    assert seen and seen[0].api_key == "k"


class _NoUpdate:
    def update(self, **fields):
        return 1


def test_every_field_a_crm_describes_has_a_known_kind():
    for spec in registry.CRMS.values():
        fields = [*spec.standard_fields, *(f for r in spec.recipients for f in r.manual_fields)]
        assert fields
        assert all(f.kind in FIELD_KINDS for f in fields), spec.kind
        assert set(spec.custom_field_kinds.values()) <= set(FIELD_KINDS)


def test_no_module_outside_the_crm_modules_branches_on_a_crm():
    """`if crm == ...` / `CrmKind.X` / `Recipient.X` comparisons live in crm/ only."""
    offenders = []
    for path in (ROOT / "integrations").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("integrations/crm/", "integrations/sandbox/")):
            continue
        if "/migrations/" in relative:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                text = ast.unparse(node)
                if any(w in text for w in ("CrmKind.", "Recipient.", ".crm ==", "crm ==")):
                    offenders.append(f"{relative}:{node.lineno}: {text}")
    assert offenders == []
