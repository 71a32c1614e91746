from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed

from lib import secrets_at_rest
from monitors import netpolicy

POLICY_SETTINGS = (
    netpolicy.ALLOW_VARIABLE,
    netpolicy.DENY_VARIABLE,
    netpolicy.LINK_LOCAL_VARIABLE,
)


def install_network_policy(*, setting: str = netpolicy.ALLOW_VARIABLE, **kwargs: object) -> None:
    """Hand the probe network policy of Django's settings to ``monitors.netpolicy`` (which the
    Django-free probes read): at start, and again when a test overrides one of its settings."""
    if setting not in POLICY_SETTINGS:
        return
    netpolicy.install(
        netpolicy.network_policy(
            tuple(getattr(settings, netpolicy.ALLOW_VARIABLE, ())),
            tuple(getattr(settings, netpolicy.DENY_VARIABLE, ())),
            bool(getattr(settings, netpolicy.LINK_LOCAL_VARIABLE, False)),
        )
    )


def install_secrets_keys(*, setting: str = "NANOMON_SECRETS_KEYS", **kwargs: object) -> None:
    """Hand the secrets-at-rest keys of Django's settings to ``lib.secrets_at_rest`` (which
    the Django-free probes read): at start, and again when a test overrides them."""
    if setting == "NANOMON_SECRETS_KEYS":
        secrets_at_rest.install(tuple(getattr(settings, "NANOMON_SECRETS_KEYS", ())))


class MonitorsConfig(AppConfig):
    name = "monitors"
    verbose_name = "Monitors"

    def ready(self) -> None:
        install_network_policy()
        setting_changed.connect(install_network_policy, dispatch_uid="nanomon-network-policy")
        install_secrets_keys()
        setting_changed.connect(install_secrets_keys, dispatch_uid="nanomon-secrets-keys")
