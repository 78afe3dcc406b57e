from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "LeadFlow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations.audit import signals  # noqa: F401  (admin changes → audit log)
        from integrations.roles import roles_sync_after_migrate

        # Register the step's configuration with django-reversion in every process.
        from integrations.studio import versions  # noqa: F401

        # Sent once per app after every migrate; sender=self runs it once, after
        # django.contrib.auth (earlier in INSTALLED_APPS) has created permissions.
        post_migrate.connect(
            roles_sync_after_migrate, sender=self, dispatch_uid="integrations.roles"
        )
