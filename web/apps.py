from django.apps import AppConfig


class WebConfig(AppConfig):
    """The dashboard's shared parts: sign-in, about, the admin page, charts, template tags."""

    name = "web"
    verbose_name = "Dashboard"
