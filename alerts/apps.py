from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alerting: per-monitor alert state, transitions, the notification outbox, channels."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"
    verbose_name = "alerting"
