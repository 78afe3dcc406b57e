import json

from django.contrib import admin
from django.utils.html import format_html

from integrations.models import Attempt, Delivery, Lead


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is not edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _pre(text: str):
    try:
        text = json.dumps(json.loads(text), indent=2)
    except (TypeError, ValueError):
        pass
    return format_html('<pre style="white-space:pre-wrap;max-width:60em">{}</pre>', text)


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = [
        "step",
        "status",
        "outcome",
        "reason",
        "contact_id",
        "duplicate",
        "response_ms",
        "attempt_count",
        "link",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # (the stubs type them apart)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def link(self, obj):
        return format_html('<a href="../../delivery/{}/change/">attempts</a>', obj.pk)


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    list_display = ["id", "email", "flow", "source", "status", "received_at"]
    list_filter = ["status", "flow"]
    list_select_related = ["flow", "source"]
    search_fields = ["=id", "=email"]
    show_full_result_count = False
    date_hierarchy = "received_at"
    fields = [
        "id",
        "flow",
        "source",
        "status",
        "email",
        "received_at",
        "finished_at",
        "idempotency_key",
        "payload_pretty",
        "fields_pretty",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # (the stubs type them apart)
    inlines = [DeliveryInline]

    @admin.display(description="Payload as received")
    def payload_pretty(self, obj):
        return _pre(json.dumps(obj.payload))

    @admin.display(description="Normalised fields")
    def fields_pretty(self, obj):
        return _pre(json.dumps(obj.fields))

    def get_search_results(self, request, queryset, search_term):
        # "=id" on a UUID column fails for text that is not a UUID: search by email only.
        import uuid

        try:
            uuid.UUID(search_term.strip())
        except ValueError:
            term = search_term.strip().lower()
            return (queryset.filter(email=term) if term else queryset), False
        return super().get_search_results(request, queryset, search_term)


class AttemptInline(admin.StackedInline):
    model = Attempt
    fields = [
        "number",
        "method",
        "url",
        "status_code",
        "error",
        "duration_ms",
        "started_at",
        "request_headers",
        "request",
        "response_headers",
        "response",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # (the stubs type them apart)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Request body")
    def request(self, obj):
        return _pre(obj.request_body)

    @admin.display(description="Response body")
    def response(self, obj):
        return _pre(obj.response_body)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "lead_link",
        "step",
        "status",
        "outcome",
        "reason",
        "contact_id",
        "duplicate",
        "response_ms",
        "attempt_count",
        "created_at",
    ]
    list_filter = ["outcome", "status", "duplicate", "step__flow", "step"]
    list_select_related = ["lead", "step", "step__flow"]
    search_fields = ["=lead__email", "=contact_id"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    fields = [
        "lead",
        "step",
        "status",
        "outcome",
        "reason",
        "contact_id",
        "duplicate",
        "response_ms",
        "attempt_count",
        "next_attempt_at",
        "lease_expires_at",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # (the stubs type them apart)
    inlines = [AttemptInline]

    @admin.display(description="Lead", ordering="lead")
    def lead_link(self, obj):
        return format_html(
            '<a href="../lead/{}/change/">{}</a>', obj.lead_id, obj.lead.email or obj.lead_id
        )
