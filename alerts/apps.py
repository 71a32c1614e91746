from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alerting: per-monitor alert state, transitions, the notification outbox, channels."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "alerting"

    def ready(self) -> None:
        from django.core import checks

        from alerts.secrets_store import check_derived_key, check_stored_secrets

        checks.register(check_stored_secrets, checks.Tags.database)
        checks.register(check_derived_key, checks.Tags.security, deploy=True)
