"""The step's Preview page (no network call) and Send test lead (a real one)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from integrations.mapping.rules import RuleTrace
from integrations.models import Lead, Step
from integrations.studio.preview import SampleInvalid, sample_fields, step_preview
from integrations.studio.test_lead import TestLeadError, step_test_lead_send

SAMPLE = """first_name: Ann
last_name: Lee
email: ann.lee@example.com
phone_1: 602-555-0101
state: AZ
score: 85"""
RECENT_LEADS = 25


class PreviewForm(forms.Form):
    lead = forms.ChoiceField(required=False, label="A recent lead of this flow")
    sample = forms.CharField(
        required=False,
        label="Or a sample",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 50, "class": "vLargeTextField"}),
        help_text="One “field: value” per line, or a JSON object, as a source would post it.",
    )

    def __init__(self, *args: Any, step: Step, **kwargs: Any):
        super().__init__(*args, **kwargs)
        leads = Lead.objects.filter(flow_id=step.flow_id).order_by("-received_at")[:RECENT_LEADS]
        self.fields["lead"].choices = [("", "— use the sample —")] + [
            (str(lead.pk), f"{lead.email or lead.pk} — {lead.received_at:%Y-%m-%d %H:%M}")
            for lead in leads
        ]


def _trace_lines(trace: RuleTrace | None) -> list[str]:
    return trace.describe() if trace is not None else []


def _fields_of(form: PreviewForm) -> tuple[Lead | None, dict[str, Any]]:
    """The picked lead, or the sample's fields. Raises SampleInvalid."""
    lead_id = form.cleaned_data.get("lead")
    if lead_id:
        lead = Lead.objects.filter(pk=lead_id).first()
        if lead is not None:
            return lead, dict(lead.fields or {})
    return None, sample_fields(form.cleaned_data.get("sample") or "")


def _page(admin: Any, request: HttpRequest, step: Step, **context: Any) -> HttpResponse:
    return TemplateResponse(
        request,
        "admin/integrations/step/preview.html",
        {
            **admin.admin_site.each_context(request),
            "opts": Step._meta,
            "original": step,
            "step": step,
            "title": f"Preview: {step.name}",
            "step_url": reverse("admin:integrations_step_change", args=[step.pk]),
            "preview_url": reverse("admin:integrations_step_preview", args=[step.pk]),
            "test_lead_url": reverse("admin:integrations_step_test_lead", args=[step.pk]),
            **context,
        },
    )


def preview_view(admin: Any, request: HttpRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(Step.objects.select_related("account", "flow"), pk=step_id)
    if not admin.has_view_permission(request, step):
        return HttpResponse(status=403)
    if request.method != "POST":
        return _page(admin, request, step, form=PreviewForm(step=step, initial={"sample": SAMPLE}))
    form = PreviewForm(request.POST, step=step)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        try:
            lead, fields = _fields_of(form)
        except SampleInvalid as exc:
            form.add_error("sample", str(exc))
            return _page(admin, request, step, **context)
        preview = step_preview(step=step, lead=lead, fields=fields)
        criteria = preview.mapped.criteria
        context.update(
            preview=preview,
            criteria_lines=_trace_lines(criteria) if criteria and criteria.items else [],
            decisions=[(d, _trace_lines(d.rule)) for d in preview.mapped.decisions],
        )
    return _page(admin, request, step, **context)


def test_lead_view(admin: Any, request: HttpRequest, step_id: int) -> HttpResponse:
    step = get_object_or_404(Step.objects.select_related("account", "flow"), pk=step_id)
    if request.method != "POST" or not admin.has_change_permission(request, step):
        return HttpResponse(status=405 if request.method != "POST" else 403)
    form = PreviewForm(request.POST, step=step)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        try:
            _, fields = _fields_of(form)
            result = step_test_lead_send(step=step, fields=fields)
        except (SampleInvalid, TestLeadError) as exc:
            messages.error(request, str(exc))
            return _page(admin, request, step, **context)
        delivery = result.delivery
        context.update(
            test_lead=result.lead,
            test_delivery=delivery,
            test_attempts=list(delivery.attempts.all()) if delivery else [],
            lead_url=reverse("admin:integrations_lead_change", args=[result.lead.pk]),
        )
    return _page(admin, request, step, **context)
