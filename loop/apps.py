from django.apps import AppConfig


class LoopConfig(AppConfig):
    """The monitoring loop's conductor: Celery tasks and the batch transaction (no models)."""

    name = "loop"
    verbose_name = "Monitoring loop"
