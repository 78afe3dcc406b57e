from django.contrib import admin, messages
from django.utils.html import format_html

from integrations.intake.keys import source_rotate_key
from integrations.models import Flow, Source, Step
from integrations.secrets import digest, new_api_key


class StepInline(admin.TabularInline):
    model = Step
    fk_name = "flow"
    fields = [
        "position",
        "name",
        "kind",
        "recipient",
        "account",
        "action",
        "duplicate_match",
        "on_error",
        "enabled",
    ]
    extra = 0
    show_change_link = True


class SourceInline(admin.TabularInline):
    model = Source
    fields = ["name", "key_hint", "active", "rate_limit_per_minute"]
    readonly_fields = ["key_hint"]
    extra = 0
    show_change_link = True


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "intake_url", "created_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    inlines = [StepInline, SourceInline]

    change_list_template = "admin/integrations/flow/change_list.html"
    change_form_template = "admin/integrations/flow/change_form.html"

    def get_urls(self):
        from django.urls import path

        from .flow_transfer import flow_export_view, flow_import_view

        return [
            path(
                "import/",
                self.admin_site.admin_view(lambda request: flow_import_view(self, request)),
                name="integrations_flow_import",
            ),
            path(
                "<int:flow_id>/export/",
                self.admin_site.admin_view(
                    lambda request, flow_id: flow_export_view(self, request, flow_id)
                ),
                name="integrations_flow_export",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="Intake URL")
    def intake_url(self, obj: Flow):
        return format_html("<code>POST {}</code>", obj.intake_path) if obj.pk else "-"


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "flow", "key_hint", "active", "rate_limit_per_minute", "created_at"]
    list_filter = ["active", "flow"]
    list_select_related = ["flow"]
    search_fields = ["name", "flow__name", "=key_hint"]
    fields = ["flow", "name", "active", "rate_limit_per_minute", "key_hint"]
    readonly_fields = ["key_hint"]
    actions = ["rotate_keys"]

    def save_model(self, request, obj, form, change):
        if not change:
            key = new_api_key()
            obj.key_digest, obj.key_hint = digest(key), key[:8]
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                format_html(
                    "API key for {}: <code>{}</code> — copy it now, it is not shown again.",
                    obj.name,
                    key,
                ),
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate the API key of the selected sources")
    def rotate_keys(self, request, queryset):
        for source in queryset:
            key = source_rotate_key(source=source)
            self.message_user(
                request,
                format_html("New key for {}: <code>{}</code> — shown once.", source.name, key),
                messages.WARNING,
            )
