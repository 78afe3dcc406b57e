from django.apps import AppConfig


class SandboxHighLevelConfig(AppConfig):
    name = "integrations.sandbox.highlevel"
    label = "sandbox_highlevel"
    verbose_name = "Sandbox: HighLevel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import seed

        # A flush (test runs empty the tables this way) is followed by post_migrate.
        post_migrate.connect(seed.forget, dispatch_uid="sandbox_highlevel.seed.forget")
