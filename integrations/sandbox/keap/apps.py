from django.apps import AppConfig


class SandboxKeapConfig(AppConfig):
    name = "integrations.sandbox.keap"
    label = "sandbox_keap"
    verbose_name = "Sandbox: Keap"
    default_auto_field = "django.db.models.BigAutoField"
