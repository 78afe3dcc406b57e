"""The step editor: a recipient step's page in the admin, with pickers filled from the
account's catalogue, rules edited as rows, Refresh catalogue, Check step, Preview,
Send test lead, Export, and (django-reversion) History with restore.

Thin: each button calls one service in integrations.studio or integrations.accounts.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.text import slugify
from reversion.admin import VersionAdmin

from integrations.accounts.catalogue import account_connection_test
from integrations.delivery.autopause import step_resume
from integrations.models import CampaignRule, FieldMapping, Step, TagRule
from integrations.studio.check import catalogue_age, step_check
from integrations.studio.transfer import step_export

from .step_forms import CampaignRuleForm, FieldMappingForm, StepForm, TagRuleForm


class _StepBoundInline(admin.TabularInline):
    """Binds the step to each row's form, so pickers read the step's catalogue."""

    extra = 0

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type(formset.form.__name__, (formset.form,), {"step": obj})
        return formset


class FieldMappingInline(_StepBoundInline):
    model = FieldMapping
    form = FieldMappingForm
    verbose_name = "custom mapping"
    verbose_name_plural = "Custom mappings (custom fields, overrides, templates)"
    fields = ["position", "target", "value_kind", "source", "on_existing", "on_invalid", "rules"]
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        manual = {f.name for f in StepForm.manual_fields_of(obj)}

        class WithoutManualData(formset):  # type: ignore[misc, valid-type]
            """Constants for manual fields are edited in "Manual data" above."""

            def get_queryset(self) -> Any:
                return super().get_queryset().exclude(value_kind="constant", target__in=manual)

        return WithoutManualData


class TagRuleInline(_StepBoundInline):
    model = TagRule
    form = TagRuleForm
    verbose_name_plural = "Tags"
    fields = ["position", "action", "tag_id", "rules"]


class CampaignRuleInline(_StepBoundInline):
    model = CampaignRule
    form = CampaignRuleForm
    verbose_name = "sequence, workflow or campaign"
    verbose_name_plural = "Sequences, workflows and campaigns"
    fields = ["position", "entry", "action", "rules"]


@admin.register(Step)
class StepAdmin(VersionAdmin):
    form = StepForm
    change_form_template = "admin/integrations/step/change_form.html"
    object_history_template = "admin/integrations/step/object_history.html"
    list_display = [
        "name",
        "flow",
        "position",
        "kind",
        "recipient",
        "account",
        "enabled",
        "paused_at",
    ]
    list_filter = ["kind", "recipient", "action", "enabled", "flow"]
    actions = ["resume_steps"]
    readonly_fields = ["paused_at", "pause_reason"]
    list_select_related = ["flow", "account"]
    search_fields = ["name", "flow__name"]
    inlines = [FieldMappingInline, TagRuleInline, CampaignRuleInline]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        form = self.get_form(request, obj, fields=None)
        manual = [
            (name, f"manual_keep__{name.removeprefix('manual__')}")
            for name in form.base_fields
            if name.startswith("manual__")
        ]
        fieldsets: list[Any] = [
            (None, {"fields": ["flow", "position", "name", "kind", "enabled"]}),
            (
                "Recipient",
                {
                    "fields": [
                        "account",
                        "recipient",
                        "action",
                        "duplicate_match",
                        "address_type",
                        "allow_duplicates",
                        "on_error",
                        "retry_schedule",
                        "paused_at",
                        "pause_reason",
                    ]
                },
            ),
            ("Step criteria (a filter: when these hold, the flow stops)", {"fields": ["rules"]}),
            ("Filter", {"fields": ["filter_action", "route_flow", "filter_reason"]}),
        ]
        if obj is not None and obj.account_id:
            fieldsets.append(("Standard fields", {"fields": ["standard_fields_on"]}))
            if manual:
                fieldsets.append(("Manual data", {"fields": manual, "classes": ["manual-data"]}))
        return fieldsets

    @admin.action(description="Resume the selected paused steps")
    def resume_steps(self, request: HttpRequest, queryset: Any) -> None:
        for step in queryset.filter(paused_at__isnull=False):
            released = step_resume(step_id=step.pk)
            self.message_user(request, f"{step}: resumed, {released} held deliveries released.")

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # The manual-data fields exist per step (its recipient's spec): build the form
        # for this step, and let ModelAdmin's field list include them.
        kwargs["fields"] = None
        # A view-only user (Support): build the whole form anyway; the admin renders
        # every field read-only and refuses a POST (Django would exclude "every listed
        # field", and with fields=None that is a TypeError).
        kwargs["change"] = kwargs.get("change", False) and self.has_change_permission(request, obj)
        form = super().get_form(request, obj, **kwargs)
        probe = form(instance=obj) if obj is not None else form()
        form.base_fields.update(
            {k: v for k, v in probe.fields.items() if k not in form.base_fields}
        )
        return form

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        step = form.instance
        with transaction.atomic():
            for target, value, keep in form.manual_data() if hasattr(form, "manual_data") else ():
                rows = step.mappings.filter(value_kind="constant", target=target)
                if not value:
                    rows.delete()
                    continue
                on_existing = "keep" if keep else "update"
                row = rows.first()
                if row is None:
                    FieldMapping.objects.create(
                        step=step,
                        value_kind="constant",
                        target=target,
                        source=value,
                        on_existing=on_existing,
                        position=1000,
                    )
                elif (row.source, row.on_existing) != (value, on_existing):
                    row.source, row.on_existing = value, on_existing
                    row.save()
        check = step_check(step=step)
        for problem in check.problems:
            self.message_user(
                request, f"{problem} (catalogue {check.catalogue_age}).", messages.WARNING
            )

    # --- buttons --------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        def view(name: str, function: Any) -> Any:
            return path(
                f"<int:step_id>/{name}/",
                self.admin_site.admin_view(function),
                name=f"integrations_step_{name.replace('-', '_')}",
            )

        from . import step_preview

        return [
            view("refresh-catalogue", self.refresh_catalogue_view),
            view("check", self.check_view),
            view("export", self.export_view),
            view(
                "preview",
                lambda request, step_id: step_preview.preview_view(self, request, step_id),
            ),
            view(
                "test-lead",
                lambda request, step_id: step_preview.test_lead_view(self, request, step_id),
            ),
            *super().get_urls(),
        ]

    def _changeable(self, request: HttpRequest, step_id: int) -> Step | None:
        step = get_object_or_404(Step.objects.select_related("account", "flow"), pk=step_id)
        if not self.has_change_permission(request, step):
            messages.error(request, "You may not change steps.")
            return None
        return step

    def _back(self, step_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:integrations_step_change", args=[step_id]))

    def refresh_catalogue_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        step = self._changeable(request, step_id)
        if step is not None and step.account_id:
            result = account_connection_test(account_id=step.account_id)
            self.message_user(
                request, result.message, messages.SUCCESS if result.ok else messages.ERROR
            )
        return self._back(step_id)

    def check_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        step = self._changeable(request, step_id)
        if step is None:
            return self._back(step_id)
        check = step_check(step=step)
        for problem in check.problems:
            self.message_user(request, f"Check step: {problem}.", messages.ERROR)
        if check.ok:
            self.message_user(
                request,
                f"Check step: all {len(check.references)} catalogue ids found "
                f"(catalogue {check.catalogue_age}).",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"Catalogue {check.catalogue_age}.", messages.WARNING)
        return self._back(step_id)

    def export_view(self, request: HttpRequest, step_id: int) -> HttpResponse:
        step = get_object_or_404(Step.objects.select_related("account", "flow"), pk=step_id)
        if not self.has_view_permission(request, step):
            return HttpResponseRedirect(reverse("admin:index"))
        return json_download(step_export(step=step), f"step-{slugify(step.name) or step.pk}")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        step = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if step is not None:
            account = step.account
            extra = {
                "step_urls": {
                    name: reverse(f"admin:integrations_step_{name}", args=[step.pk])
                    for name in ("refresh_catalogue", "check", "export", "preview")
                },
                "catalogue_account": account,
                "catalogue_age": catalogue_age(account.catalogue_refreshed_at) if account else "",
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


def json_download(data: Any, stem: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{stem}.leadflow.json"'
    return response
