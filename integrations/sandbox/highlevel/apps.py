from django.apps import AppConfig


class SandboxHighLevelConfig(AppConfig):
    name = "integrations.sandbox.highlevel"
    label = "sandbox_highlevel"
    verbose_name = "Sandbox: HighLevel"
    default_auto_field = "django.db.models.BigAutoField"
