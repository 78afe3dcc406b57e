"""The audit log (Admins), Django's own admin change log, and "Erase this person"."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from integrations.models import AuditEntry
from integrations.retention.erase import ErasureError, person_erase

ERASE_PERMISSION = "integrations.erase_person"


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EraseForm(forms.Form):
    email = forms.EmailField(required=False)
    phone = forms.CharField(required=False, max_length=40)
    confirm = forms.BooleanField(label="I understand this cannot be undone", required=True)

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("phone"):
            raise forms.ValidationError("Give an email address or a phone number.")
        return data


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "summary", "object_type", "object_id"]
    list_filter = ["action"]
    search_fields = ["=actor_name"]
    date_hierarchy = "at"
    show_full_result_count = False
    change_list_template = "admin/integrations/auditentry/change_list.html"

    def get_urls(self):
        erase = self.admin_site.admin_view(self.erase_view)
        return [path("erase/", erase, name="integrations_erase_person"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_erase": request.user.has_perm(ERASE_PERMISSION)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(ERASE_PERMISSION):
            raise PermissionDenied
        form = EraseForm(request.POST or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = person_erase(
                    email=form.cleaned_data["email"],
                    phone=form.cleaned_data["phone"],
                    user=request.user,
                )
            except ErasureError as exc:
                form.add_error(None, str(exc))
            else:
                form = EraseForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Erase a person",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/integrations/auditentry/erase.html", context)


@admin.register(LogEntry)
class AdminChangeLogAdmin(ReadOnly, admin.ModelAdmin):
    """Every change made through the admin (Django's own log: field names, not values)."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change"]
    list_filter = ["action_flag", "content_type"]
    list_select_related = ["user", "content_type"]
    show_full_result_count = False

    @admin.display(description="Change")
    def change(self, obj: LogEntry) -> str:
        return obj.get_change_message()
