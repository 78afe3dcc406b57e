from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "LeadFlow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the step's configuration with django-reversion in every process.
        from integrations.studio import versions  # noqa: F401
