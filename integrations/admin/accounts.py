"""CRM accounts in the admin: connect / reconnect (OAuth), test the connection, see the
catalogue, and a banner on every admin page that shows accounts needing a reconnect.

Secrets are write-only here: no key, token or secret is ever rendered.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html, format_html_join

from integrations.accounts.catalogue import account_connection_test
from integrations.accounts.services import account_reconnected
from integrations.crm.registry import CRMS
from integrations.delivery.autopause import account_resume
from integrations.delivery.ratelimit import (
    account_default_quotas,
    account_limit_key,
    account_quotas,
    ratelimit_status,
)
from integrations.models import Account, AccountStatus, AuthType

EDITABLE = [
    "name",
    "crm",
    "auth_type",
    "api_key",
    "external_id",
    "phone_region",
    "rate_limit_per_second",
    "rate_limit_per_minute",
    "rate_limit_per_day",
    "autopause_after_seconds",
]

# Catalogue sections in display order, with their labels.
CATALOGUE_SECTIONS = (
    ("custom_fields", "Custom fields"),
    ("tags", "Tags"),
    ("campaigns", "Campaigns and sequences"),
    ("followup_sequences", "Follow-up sequences"),
    ("action_sets", "Action sets"),
    ("workflows", "Workflows"),
    ("contact_types", "Contact types"),
    ("lead_sources", "Lead sources"),
    ("owners", "Owners"),
    ("users", "Users"),
)


class AccountForm(forms.ModelForm):
    """Secrets are write-only: the admin never renders a stored key or token."""

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Keap Personal Access Token / Service Account Key, or a HighLevel private "
        "integration token. Leave empty to keep the stored key.",
    )

    class Meta:
        model = Account
        fields = EDITABLE
        labels = {"external_id": "Tenant"}
        help_texts = {"external_id": " ".join(spec.tenant_help for spec in CRMS.values())}

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key", "")
        return value or (self.instance.api_key if self.instance.pk else "")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "name",
        "crm",
        "auth_type",
        "status_badge",
        "paused_display",
        "token_expires_at",
        "updated_at",
    ]
    list_filter = ["crm", "auth_type", "status"]
    search_fields = ["name", "=external_id"]
    actions = ["resume_accounts"]
    readonly_fields = [
        "status_badge",
        "paused_display",
        "rate_limit_display",
        "token_expires_at",
        "last_error",
        "catalogue_refreshed_at",
        "catalogue_display",
    ]

    def get_fields(self, request, obj=None):
        fields = list(EDITABLE)
        if obj is not None and obj.auth_type == AuthType.OAUTH:
            fields.remove("api_key")  # OAuth accounts get their tokens from Connect
        if obj is not None:
            fields += self.readonly_fields
        return fields

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Account):
        colours: dict[str, str] = {
            AccountStatus.CONNECTED: "#2e7d32",
            AccountStatus.NEEDS_RECONNECT: "#c62828",
        }
        colour = colours.get(obj.status, "#757575")
        return format_html(
            '<strong class="account-status" style="color:{}">{}</strong>',
            colour,
            obj.get_status_display(),
        )

    @admin.display(description="Paused")
    def paused_display(self, obj: Account):
        if obj.paused_at is None:
            return "—"
        return format_html(
            '<strong class="account-paused" style="color:#c62828">Paused since {}</strong>: {}',
            obj.paused_at.strftime("%Y-%m-%d %H:%M UTC"),
            obj.pause_reason,
        )

    @admin.display(description="Rate limit")
    def rate_limit_display(self, obj: Account):
        """The quotas in force, the CRM's own count of what is left, and any 429 pause."""
        defaults = account_default_quotas(obj)
        quotas = ", ".join(f"{q.limit:,} per {_window(q.period)}" for q in account_quotas(obj))
        status = ratelimit_status(key=account_limit_key(obj))
        left = format_html_join(
            ", ",
            "{}: {} of {} left",
            ((q.window, f"{q.remaining:,}", f"{q.limit:,}") for q in status.seen),
        )
        seen = (
            format_html(
                "<br>The CRM's last answer ({}): {}",
                status.seen_at.strftime("%H:%M:%S UTC"),
                left,
            )
            if status.seen_at
            else format_html("<br>{}", "No call answered yet.")
        )
        slowed = ""
        if status.paused_for > 0 or status.rate_factor < 1:
            slowed = format_html(
                "<br><strong>Rate limited by the CRM (429)</strong>: paused for {} s more, "
                "sending at {} % of the quota while it recovers.",
                f"{status.paused_for:.0f}",
                f"{status.rate_factor * 100:.0f}",
            )
        return format_html(
            '<div class="rate-limit">In force: {} (published: {}/s{}{}/day).{}{}</div>',
            quotas,
            defaults[0],
            f", {defaults[1]:,}/min" if defaults[1] else "",
            f", {defaults[2]:,}",
            seen,
            slowed,
        )

    @admin.action(description="Resume the selected paused accounts")
    def resume_accounts(self, request, queryset):
        for account in queryset.filter(paused_at__isnull=False):
            released = account_resume(account_id=account.pk)
            self.message_user(
                request, f"{account.name}: resumed, {released} held deliveries released."
            )

    @admin.display(description="Catalogue")
    def catalogue_display(self, obj: Account):
        catalogue = obj.catalogue or {}
        if not catalogue:
            return "Not fetched yet: press “Test connection”."
        sections = [
            format_html(
                "<details><summary>{} ({})</summary><ul>{}</ul></details>",
                label,
                len(catalogue[key]),
                format_html_join("", "<li>{}</li>", ((_entry(item),) for item in catalogue[key])),
            )
            for key, label in CATALOGUE_SECTIONS
            if isinstance(catalogue.get(key), list)
        ]
        unavailable = catalogue.get("unavailable") or []
        note = (
            format_html(
                "<p>Not offered by this server: {}.</p>",
                ", ".join(str(u).replace("_", " ") for u in unavailable),
            )
            if unavailable
            else ""
        )
        return format_html(
            "<div>{}{}</div>", format_html_join("", "{}", ((s,) for s in sections)), note
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_connection_view)
        resume = self.admin_site.admin_view(self.resume_view)
        return [
            path(
                "<int:account_id>/test-connection/",
                view,
                name="integrations_account_test_connection",
            ),
            path("<int:account_id>/resume/", resume, name="integrations_account_resume"),
            *super().get_urls(),
        ]

    def test_connection_view(self, request: HttpRequest, account_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = get_object_or_404(Account, pk=account_id)
        if not self.has_change_permission(request, account):
            messages.error(request, "You may not change accounts.")
        else:
            result = account_connection_test(account_id=account.pk)
            self.message_user(
                request, result.message, messages.SUCCESS if result.ok else messages.ERROR
            )
        return HttpResponseRedirect(reverse("admin:integrations_account_change", args=[account.pk]))

    def resume_view(self, request: HttpRequest, account_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = get_object_or_404(Account, pk=account_id)
        if not self.has_change_permission(request, account):
            messages.error(request, "You may not change accounts.")
        else:
            released = account_resume(account_id=account.pk)
            self.message_user(request, f"Resumed: {released} held deliveries released.")
        return HttpResponseRedirect(reverse("admin:integrations_account_change", args=[account.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, object_id)
        extra = {}
        if account is not None:
            extra = {
                "is_oauth": account.auth_type == AuthType.OAUTH,
                "connect_url": reverse("oauth:connect", args=[account.pk]),
                "connect_label": "Connect"
                if account.status == AccountStatus.NOT_CONNECTED
                else "Reconnect",
                "test_connection_url": reverse(
                    "admin:integrations_account_test_connection", args=[account.pk]
                ),
                "resume_url": reverse("admin:integrations_account_resume", args=[account.pk])
                if account.paused_at
                else "",
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def save_model(self, request, obj, form, change):
        columns = {f.name for f in Account._meta.concrete_fields}
        fields = [name for name in form.cleaned_data if name in columns]
        if obj.auth_type == AuthType.API_KEY:
            obj.status = AccountStatus.CONNECTED if obj.api_key else AccountStatus.NOT_CONNECTED
            fields.append("status")
        elif not obj.access_token:
            obj.status = AccountStatus.NOT_CONNECTED
            fields.append("status")
        if change:
            # Only what the form edits: a worker may have rotated the tokens (or marked
            # the account needs_reconnect) since this page loaded, and writing back the
            # old refresh token would burn the account.
            obj.save(update_fields=[*fields, "updated_at"])
        else:
            obj.save()
        if obj.is_usable:
            released = account_reconnected(account_id=obj.pk)
            if released:
                self.message_user(request, f"{released} held deliveries released.")


def _entry(item) -> str:
    """One catalogue item as text: "Lead Nurture (45): Welcome (1), Follow-up (3)"."""
    if not isinstance(item, dict):
        return str(item)
    text = f"{item.get('name') or '(no name)'} ({item.get('id')})"
    extra = [str(item[k]) for k in ("type", "category", "status", "email", "key") if item.get(k)]
    if extra:
        text += " — " + ", ".join(extra)
    sequences = item.get("sequences")
    if sequences:
        text += ": " + ", ".join(f"{s.get('name')} ({s.get('id')})" for s in sequences)
    return text


def _window(period: float) -> str:
    return {1.0: "second", 60.0: "minute", 86_400.0: "UTC day"}.get(period, f"{period:g} s")


def _paused() -> list[Account]:
    return list(
        Account.objects.filter(paused_at__isnull=False).only("pk", "name", "crm", "pause_reason")[
            :20
        ]
    )


def _needing_reconnect() -> list[Account]:
    return list(
        Account.objects.filter(status=AccountStatus.NEEDS_RECONNECT).only("pk", "name", "crm")[:20]
    )


def _with_reconnect_banner(each_context):
    """Every admin page's context gets `accounts_needing_reconnect` (lazy: queried only
    by the pages that show the banner: the index, the account list and account pages)."""

    def each_context_with_banner(request):
        context = each_context(request)
        context["accounts_needing_reconnect"] = SimpleLazyObject(_needing_reconnect)
        context["accounts_paused"] = SimpleLazyObject(_paused)
        return context

    each_context_with_banner.wrapped = True  # type: ignore[attr-defined]
    return each_context_with_banner


if not getattr(admin.site.each_context, "wrapped", False):
    admin.site.each_context = _with_reconnect_banner(admin.site.each_context)  # type: ignore[method-assign]
# The admin index with the banner on top (extends admin/index.html).
admin.site.index_template = "admin/integrations/account/index.html"
