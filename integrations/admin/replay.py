"""Replay in the admin: a button on a delivery (optionally editing the lead's fields
first), an action on the selected deliveries, and a button replaying every failure
and error matching the delivery list's filters. Thin: integrations.replay does it.

The delivery and lead admins of integrations/admin/leads.py are extended here (and
re-registered), so this area stays in its own module. The filters (account, flow,
step, reason, outcome, finished range, search) are the delivery list's own.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from integrations.models import Delivery, Lead, LeadRevision, Outcome, ReplayItem, ReplayKind
from integrations.replay.selectors import item_new_attempts
from integrations.replay.services import (
    REPLAYABLE,
    ReplayRequest,
    lead_fields_revise,
    replay_create,
    succeeded_count,
)

from .leads import DeliveryAdmin, LeadAdmin

REPLAY_PERMISSION = "integrations.replay_delivery"


def can_replay(request: HttpRequest) -> bool:
    return request.user.has_perm(REPLAY_PERMISSION)


class ReplayHistoryInline(admin.TabularInline):
    """Each replay of this delivery: the run it replaced, and the new run's attempts."""

    model = ReplayItem
    fk_name = "delivery"
    verbose_name = "replay"
    verbose_name_plural = "replays (previous runs are kept here)"
    fields = [
        "replay_link",
        "released_at",
        "previous_outcome",
        "previous_reason",
        "previous_attempt_count",
        "state",
        "outcome",
        "reason",
        "new_attempts",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Replay")
    def replay_link(self, obj: ReplayItem):
        url = reverse("admin:integrations_replay_change", args=[obj.replay_id])
        return format_html('<a href="{}">#{}</a>', url, obj.replay_id)

    @admin.display(description="New attempts")
    def new_attempts(self, obj: ReplayItem):
        return format_html_join(
            ", ",
            '<span class="replay-attempt">#{} {}</span>',
            ((a.number, a.status_code or a.error or "") for a in item_new_attempts(item=obj)),
        )


class LeadRevisionInline(admin.TabularInline):
    model = LeadRevision
    fields = ["number", "changed_by", "changed_at", "before", "after"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "field revisions (the payload as received is never changed)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReplayConfirmForm(forms.Form):
    include_succeeded = forms.BooleanField(
        required=False, label="Yes, send the successful deliveries again"
    )


class ReplayDeliveryAdmin(DeliveryAdmin):
    change_form_template = "admin/integrations/replay/delivery_change_form.html"
    change_list_template = "admin/integrations/replay/delivery_change_list.html"
    actions = ["replay_selected"]

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), ReplayHistoryInline]

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return can_replay(request)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:delivery_id>/replay/", wrap(self.replay_one_view), name="delivery_replay"),
            path("replay-matching/", wrap(self.replay_matching_view), name="delivery_replay_all"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_replay": can_replay(request), "query": request.GET.urlencode()}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_replay": can_replay(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # --- the action: the selected deliveries --------------------------------------------

    @admin.action(description="Replay the selected deliveries", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        ids = list(queryset.values_list("pk", flat=True)[:10_000])
        selected = Delivery.objects.filter(pk__in=ids)
        form = ReplayConfirmForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            return self._start(
                request,
                ReplayKind.SELECTED,
                selected,
                include_succeeded=form.cleaned_data["include_succeeded"],
                description=f"{len(ids)} selected",
            )
        return self._confirm_page(
            request, selected, form=form, title="Replay the selected deliveries", ids=ids
        )

    # --- one delivery, optionally editing the lead's fields first -----------------------

    def replay_one_view(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        if not can_replay(request):
            raise PermissionDenied
        delivery = get_object_or_404(
            Delivery.objects.select_related("lead", "step"), pk=delivery_id
        )
        selected = Delivery.objects.filter(pk=delivery.pk)
        form = ReplayConfirmForm(request.POST or None)
        fields = dict(delivery.lead.fields)
        if request.method == "POST" and form.is_valid():
            if delivery.outcome == Outcome.SUCCESS and not form.cleaned_data["include_succeeded"]:
                form.add_error(
                    "include_succeeded", "This delivery succeeded: confirm to send it again."
                )
            else:
                edited = _edited_fields(request, fields)
                if edited != fields:
                    lead_fields_revise(lead_id=delivery.lead_id, fields=edited, user=request.user)
                return self._start(
                    request,
                    ReplayKind.ONE,
                    selected,
                    include_succeeded=form.cleaned_data["include_succeeded"],
                    description=f"delivery {delivery.pk}",
                )
        return self._confirm_page(
            request, selected, form=form, title=f"Replay {delivery}", lead_fields=fields
        )

    # --- every failure and error matching the list's filters ----------------------------

    def replay_matching_view(self, request: HttpRequest) -> HttpResponse:
        if not can_replay(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        matching = changelist.get_queryset(request).filter(outcome__in=REPLAYABLE)
        description = _describe_filters(request.GET)
        if request.method == "POST" and "confirm" in request.POST:
            return self._start(
                request,
                ReplayKind.FILTER,
                matching,
                include_succeeded=False,
                description=description,
            )
        return self._confirm_page(
            request,
            matching,
            form=None,
            title="Replay every failure and error matching these filters",
            description=description or "no filter: every failure and error",
        )

    # --- shared ---------------------------------------------------------------------------

    def _start(self, request, kind, deliveries, *, include_succeeded, description) -> HttpResponse:
        replay = replay_create(
            user=request.user,
            request=ReplayRequest(
                kind=kind,
                deliveries=deliveries,
                description=description,
                include_succeeded=include_succeeded,
            ),
        )
        if replay.total:
            self.message_user(request, f"{replay} started: {replay.total} to send again.")
        else:
            self.message_user(request, "Nothing to replay.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:integrations_replay_change", args=[replay.pk]))

    def _confirm_page(self, request, deliveries, *, form, title, **extra: Any) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "replayable": deliveries.filter(outcome__in=REPLAYABLE, status="done").count(),
            "succeeded": succeeded_count(deliveries=deliveries),
            "sample": deliveries.select_related("lead", "step")[:20],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **extra,
        }
        return TemplateResponse(request, "admin/integrations/replay/confirm.html", context)


def _edited_fields(request: HttpRequest, fields: dict[str, Any]) -> dict[str, Any]:
    """The lead's fields with the values posted as field:<name> (strings; a field left
    unchanged keeps its original value and type)."""
    edited = dict(fields)
    for name, value in fields.items():
        posted = request.POST.get(f"field:{name}")
        if posted is not None and posted != _text(value):
            edited[name] = posted
    return edited


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _describe_filters(params) -> str:
    """The filters in words, for the replay and the audit log; a search term (often an
    email address) is named, never quoted."""
    parts = [f"{k}={v}" for k, v in sorted(params.items()) if k not in ("q", "o", "p", "e")]
    if params.get("q"):
        parts.append("with a search term")
    return ", ".join(parts)


class ReplayLeadAdmin(LeadAdmin):
    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), LeadRevisionInline]


for model, model_admin in ((Delivery, ReplayDeliveryAdmin), (Lead, ReplayLeadAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
