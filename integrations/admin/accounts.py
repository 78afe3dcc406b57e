from django import forms
from django.contrib import admin
from django.utils.html import format_html

from integrations.models import Account, AccountStatus


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
        fields = ["name", "crm", "auth_type", "api_key", "external_id", "rate_limit_per_second"]
        labels = {"external_id": "Location id (HighLevel)"}

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key", "")
        return value or (self.instance.api_key if self.instance.pk else "")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["name", "crm", "auth_type", "status_badge", "token_expires_at", "updated_at"]
    list_filter = ["crm", "auth_type", "status"]
    search_fields = ["name", "=external_id"]
    readonly_fields = ["status", "token_expires_at", "last_error", "catalogue_refreshed_at"]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Account):
        colour = {
            AccountStatus.CONNECTED: "#2e7d32",
            AccountStatus.NEEDS_RECONNECT: "#c62828",
        }.get(obj.status, "#757575")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())

    def save_model(self, request, obj, form, change):
        if obj.auth_type == "api_key":
            obj.status = AccountStatus.CONNECTED if obj.api_key else AccountStatus.NOT_CONNECTED
        super().save_model(request, obj, form, change)
