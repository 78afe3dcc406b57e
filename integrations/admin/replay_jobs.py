"""The replay list and each replay's progress page (done / left / outcomes so far,
Cancel, and the summary when it ends)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html_join

from integrations.models import Replay, ReplayItem
from integrations.replay.services import replay_cancel

from .replay import can_replay


@admin.register(Replay)
class ReplayAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "state",
        "created_by",
        "created_at",
        "total",
        "done",
        "left",
        "outcome_summary",
    ]
    list_filter = ["state", "kind"]
    list_select_related = ["created_by"]
    show_full_result_count = False
    change_form_template = "admin/integrations/replay/progress.html"
    fields = [
        "kind",
        "state",
        "description",
        "include_succeeded",
        "created_by",
        "created_at",
        "total",
        "released",
        "finished",
        "skipped",
        "cancelled",
        "outcome_summary",
        "cancelled_by",
        "finished_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Outcomes so far")
    def outcome_summary(self, obj: Replay):
        return (
            format_html_join(
                ", ",
                '<span class="replay-outcome-{}">{}: {}</span>',
                ((k, k, v) for k, v in sorted(obj.outcomes.items())),
            )
            or "—"
        )

    def get_urls(self):
        cancel = self.admin_site.admin_view(self.cancel_view)
        return [
            path("<int:replay_id>/cancel/", cancel, name="integrations_replay_cancel"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {
            "can_replay": can_replay(request),
            "items": ReplayItem.objects.filter(replay_id=object_id)
            .select_related("delivery__step__flow")
            .order_by("pk")[:20],
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def cancel_view(self, request: HttpRequest, replay_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_replay(request):
            raise PermissionDenied
        replay = get_object_or_404(Replay, pk=replay_id)
        cancelled = replay_cancel(replay_id=replay.pk, user=request.user)
        self.message_user(
            request,
            f"{replay} cancelled: {cancelled} not started will not be sent; "
            "those already started finish.",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:integrations_replay_change", args=[replay.pk]))
