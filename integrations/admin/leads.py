import uuid

from django.contrib import admin
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from integrations.models import Delivery, Lead

from .journey import journey_context
from .listing import (
    AccountFilter,
    EstimatedCountPaginator,
    FinishedRangeFilter,
    FlowFilter,
    PageChangeList,
    ReasonFilter,
    StepFilter,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is not edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BigListAdmin(ReadOnlyAdmin):
    """Lists of millions of rows: newest first by primary key (its index serves the
    order: lead ids are time-ordered UUIDs, delivery ids a sequence), a capped or
    estimated count, no facet counts, no date hierarchy (its DISTINCT dates scan)."""

    ordering = ("-pk",)
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # The rows rendered per column, not per cell (integrations/admin/rows.py).
    change_list_template = "admin/integrations/big_change_list.html"
    # Related rows fetched for the shown page only (one query), not joined to every
    # row a filter matches before the page is cut.
    list_prefetch_related: tuple[Prefetch, ...] = ()

    def get_changelist(self, request, **kwargs):
        return PageChangeList


def _search_kind(term: str) -> str:
    try:
        uuid.UUID(term)
    except ValueError:
        return "email" if "@" in term else "contact"
    return "lead"


@admin.register(Lead)
class LeadAdmin(BigListAdmin):
    list_display = ["id", "email", "flow", "source", "status", "received_at"]
    list_filter = ["status", ("flow", FlowFilter)]
    list_select_related = ["flow", "source", "source__flow"]
    search_fields = ["=id", "=email"]
    search_help_text = "Exact email, lead id or CRM contact id"
    fields = [
        "id",
        "flow",
        "source",
        "status",
        "email",
        "received_at",
        "finished_at",
        "stopped_at",
        "stop_reason",
        "routed_from",
        "idempotency_key",
    ]
    readonly_fields = fields  # type: ignore[assignment]  # (the stubs type them apart)
    change_form_template = "admin/integrations/lead/journey.html"

    def get_queryset(self, request):
        # The list shows none of the JSON documents: do not fetch or decode them.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.defer("payload", "fields", "flow__description")
        return queryset

    def get_search_results(self, request, queryset, search_term):
        """Exact matches only, each on its own index: a lead id, an email, or a CRM
        contact id (the leads whose deliveries got it)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        kind = _search_kind(term)
        if kind == "lead":
            return queryset.filter(pk=term), False
        if kind == "email":
            return queryset.filter(email=term.lower()), False
        deliveries = Delivery.objects.filter(contact_id=term).exclude(contact_id="")
        return queryset.filter(pk__in=deliveries.values("lead_id")), False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        lead = self.get_object(request, object_id)
        journey = journey_context(lead=lead, version_of=step_version_link) if lead else {}
        context = {**(extra_context or {}), **journey}
        return super().change_view(request, object_id, form_url, extra_context=context)


def step_version_link(obj: Delivery) -> str:
    """The configuration this delivery was mapped with, linked to its history entry."""
    revision = obj.step_revision
    if revision is None:
        return "-"
    url = reverse(
        "admin:integrations_step_revision", args=[obj.step_id, _version_id(obj, revision)]
    )
    who = revision.user.get_username() if revision.user else "-"
    return format_html(
        '<a href="{}">{}</a> by {}: {}',
        url,
        f"{revision.date_created:%Y-%m-%d %H:%M}",
        who,
        revision.get_comment() or "-",
    )


@admin.register(Delivery)
class DeliveryAdmin(BigListAdmin):
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
        "finished",
    ]
    list_filter = [
        "outcome",
        "status",
        "duplicate",
        FinishedRangeFilter,
        ("step__account", AccountFilter),
        ("step__flow", FlowFilter),
        ("step", StepFilter),
        ReasonFilter,
    ]
    # The lead (for its email) per shown row: joined before the page is cut, it was
    # looked up for every delivery a filter matched (thousands) to show 50.
    list_select_related = ["step", "step__flow"]
    list_prefetch_related = (Prefetch("lead", queryset=Lead.objects.only("id", "email")),)
    search_fields = ["=lead__email", "=contact_id"]
    search_help_text = "Exact email, lead id or CRM contact id"
    fields = [
        "lead",
        "step",
        "step_version",
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
    change_form_template = "admin/integrations/delivery/journey.html"

    def get_queryset(self, request):
        # The list shows none of the JSON documents: do not fetch or decode them.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.defer(
                "progress",
                "step__tag_ids",
                "step__sequences",
                "step__options",
                "step__rules",
                "step__flow__description",
            )
        return queryset

    def get_search_results(self, request, queryset, search_term):
        """Exact matches, each on its own index (an OR across the join would scan)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        kind = _search_kind(term)
        if kind == "lead":
            return queryset.filter(lead_id=term), False
        if kind == "email":
            leads = Lead.objects.filter(email=term.lower()).values("id")
            return queryset.filter(lead_id__in=leads), False
        return queryset.filter(contact_id=term).exclude(contact_id=""), False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        delivery = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if delivery is not None:
            context.update(
                journey_context(lead=delivery.lead, only=delivery, version_of=step_version_link)
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.display(description="Step version")
    def step_version(self, obj):
        return step_version_link(obj)

    @admin.display(description="Finished", ordering="finished_at")
    def finished(self, obj):
        # strftime, not the admin's localized formatting: 50 rows a page add up.
        moment = obj.finished_at
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"

    @admin.display(description="Lead", ordering="lead")
    def lead_link(self, obj):
        return format_html(
            '<a href="../lead/{}/change/">{}</a>', obj.lead_id, obj.lead.email or obj.lead_id
        )


def _version_id(delivery, revision) -> int:
    version = revision.version_set.filter(object_id=str(delivery.step_id)).first()
    return version.pk if version else 0
