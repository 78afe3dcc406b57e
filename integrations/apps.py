from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "LeadFlow"
    default_auto_field = "django.db.models.BigAutoField"
