"""Export a flow's configuration, and the Import page: upload a file, see what each id
was matched to in the target account's catalogue and every one that was not, then
import — or not."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import slugify

from integrations.crm.registry import CRMS
from integrations.models import Account, Flow
from integrations.studio.check import catalogue_age
from integrations.studio.transfer import (
    TransferError,
    flow_export,
    transfer_apply,
    transfer_plan,
    transfer_read,
)

from .steps import json_download


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="A file exported from a flow or a step.")
    content = forms.CharField(required=False, widget=forms.HiddenInput)
    flow = forms.ModelChoiceField(
        Flow.objects.all(),
        required=False,
        empty_label="— a new flow, named as the exported one —",
        label="Import into",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for kind, spec in CRMS.items():
            accounts = Account.objects.filter(crm=kind)
            self.fields[f"account_{kind}"] = forms.ModelChoiceField(
                accounts,
                required=False,
                label=f"{spec.short_label} steps use",
                empty_label=f"— no {spec.short_label} account —",
                initial=accounts.first(),
            )

    def raw(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read().decode("utf-8", "replace")
        return self.cleaned_data.get("content") or ""

    def accounts(self) -> dict[str, Account]:
        return {
            kind: self.cleaned_data[f"account_{kind}"]
            for kind in CRMS
            if self.cleaned_data.get(f"account_{kind}") is not None
        }


def flow_export_view(admin: Any, request: HttpRequest, flow_id: int) -> HttpResponse:
    flow = get_object_or_404(Flow, pk=flow_id)
    if not admin.has_view_permission(request, flow):
        return HttpResponse(status=403)
    return json_download(flow_export(flow=flow), f"flow-{slugify(flow.name) or flow.pk}")


def flow_import_view(admin: Any, request: HttpRequest) -> HttpResponse:
    if not admin.has_add_permission(request):
        return HttpResponse(status=403)
    form = ImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {
        **admin.admin_site.each_context(request),
        "opts": Flow._meta,
        "title": "Import a flow or step configuration",
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        raw = form.raw()
        try:
            data = transfer_read(raw)
        except TransferError as exc:
            form.add_error("file", str(exc))
            return TemplateResponse(request, "admin/integrations/flow/import.html", context)
        accounts = form.accounts()
        plan = transfer_plan(data=data, accounts=accounts)
        if "_import" in request.POST and not plan.missing_accounts:
            flow = transfer_apply(plan=plan, flow=form.cleaned_data.get("flow"), user=request.user)
            skipped = len(plan.resolution.unmatched)
            messages.success(
                request,
                f"Imported {len(plan.steps)} step(s) into “{flow.name}”"
                + (f"; {skipped} unmatched id(s) left out." if skipped else "."),
            )
            return HttpResponseRedirect(reverse("admin:integrations_flow_change", args=[flow.pk]))
        form.data = form.data.copy()  # type: ignore[attr-defined]  # a QueryDict
        form.data["content"] = json.dumps(data)  # type: ignore[index]
        context.update(
            plan=plan,
            checked=True,
            ages={k: catalogue_age(a.catalogue_refreshed_at) for k, a in accounts.items()},
            crm_labels={k: s.short_label for k, s in CRMS.items()},
        )
    return TemplateResponse(request, "admin/integrations/flow/import.html", context)
