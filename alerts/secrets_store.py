"""The secrets stored sealed (docs/security.md): monitors' secret properties and channels'
secret settings, as a whole. ``stored_secrets_problem`` says whether some cannot be opened with
the installed keys (the start check: ``manage.py migrate`` and ``check``, the embedded
shape's start); ``secrets_reseal`` seals every one again with the first key
(``manage.py secrets_rotate``).

Here because alerts sits above monitors: both apps' rows are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, transaction

from alerts.channels import REGISTRY as CHANNEL_KINDS
from alerts.models import Channel
from lib import secrets_at_rest
from lib.secrets_at_rest import Keyring, SecretsKeyError, is_sealed
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import secret_property_names

BATCH = 500


def _monitor_kinds() -> list[str]:
    return [kind for kind in REGISTRY if secret_property_names(kind)]


def _channel_secret_names(kind: str) -> tuple[str, ...]:
    transport = CHANNEL_KINDS.get(kind)
    return tuple(spec.name for spec in transport.fields if spec.secret) if transport else ()


def _monitor_secrets(kind: str, properties: dict) -> Iterator[tuple[str, object]]:
    for name in secret_property_names(kind):
        value = (properties or {}).get(name)
        if isinstance(value, str) and value:
            yield name, value


def _channel_secrets(kind: str, config: dict) -> Iterator[tuple[str, object]]:
    for name in _channel_secret_names(kind):
        value = (config or {}).get(name)
        if value not in (None, "", [], {}):
            yield name, value


def _opens(ring: Keyring, value: object) -> bool:
    if not is_sealed(value):
        return True
    try:
        ring.open(value)
    except SecretsKeyError:
        return False
    return True


@dataclass
class Unopenable:
    """The rows holding a sealed secret that no installed key opens."""

    monitors: list[int] = field(default_factory=list)
    channels: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.monitors or self.channels)

    def describe(self) -> str:
        parts = []
        if self.monitors:
            parts.append(f"{len(self.monitors)} monitor(s) (ids {_ids(self.monitors)})")
        if self.channels:
            parts.append(f"{len(self.channels)} alert channel(s) (ids {_ids(self.channels)})")
        return " and ".join(parts)


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (", …" if len(ids) > 10 else "")


def stored_secrets_unopenable() -> Unopenable:
    """Which rows hold a sealed secret that none of the installed keys opens."""
    found = Unopenable()
    try:
        ring = secrets_at_rest.keyring()
    except SecretsKeyError:
        ring = None
    rows = Monitor.objects.filter(kind__in=_monitor_kinds(), properties__isnull=False)
    for pk, kind, properties in rows.order_by("pk").values_list("pk", "kind", "properties"):
        values = [value for _, value in _monitor_secrets(kind, properties)]
        if any(not (ring and _opens(ring, value)) for value in values if is_sealed(value)):
            found.monitors.append(pk)
    for pk, kind, config in Channel.objects.order_by("pk").values_list("pk", "kind", "config"):
        values = [value for _, value in _channel_secrets(kind, config)]
        if any(not (ring and _opens(ring, value)) for value in values if is_sealed(value)):
            found.channels.append(pk)
    return found


def stored_secrets_problem() -> str | None:
    """A message for the operator when stored secrets cannot be opened, else None."""
    found = stored_secrets_unopenable()
    if not found:
        return None
    where = (
        "the key derived from DJANGO_SECRET_KEY (NANOMON_SECRETS_KEY is not set)"
        if settings.NANOMON_SECRETS_KEY_DERIVED
        else "any key of NANOMON_SECRETS_KEY"
    )
    return (
        f"stored secrets cannot be decrypted with {where}: {found.describe()}. Set "
        "NANOMON_SECRETS_KEY to the key(s) they were sealed with (docs/security.md); "
        "nothing was changed"
    )


def check_stored_secrets(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """Django system check (database tag): runs with ``manage.py migrate`` and
    ``manage.py check --database default``, so a deployment with the wrong key stops there."""
    if not databases:
        return []
    try:
        problem = stored_secrets_problem()
    except DatabaseError:  # tables not created yet: nothing stored
        return []
    if problem is None:
        return []
    return [checks.Error(problem, id="nanomon.E001")]


def check_derived_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check --deploy``: PostgreSQL without NANOMON_SECRETS_KEY."""
    if settings.NANOMON_SECRETS_KEY_DERIVED and "sqlite" not in settings.DATABASES["default"].get(
        "ENGINE", ""
    ):
        return [
            checks.Warning(
                "NANOMON_SECRETS_KEY is not set: secrets are sealed with a key derived from "
                "DJANGO_SECRET_KEY, and changing DJANGO_SECRET_KEY makes them unreadable",
                hint="set NANOMON_SECRETS_KEY, then run manage.py secrets_rotate "
                "(docs/security.md)",
                id="nanomon.W001",
            )
        ]
    return []


# --- Rotation -------------------------------------------------------------------------------


@dataclass
class ResealCounts:
    monitors: int = 0
    channels: int = 0
    failed: Unopenable = field(default_factory=Unopenable)


def rotation_keyring() -> Keyring:
    """The installed keys plus, to open only, the key derived from SECRET_KEY (so a rotation
    also moves secrets sealed before NANOMON_SECRETS_KEY was set onto its first key)."""
    keys = tuple(settings.NANOMON_SECRETS_KEYS)
    derived = secrets_at_rest.derived_key(settings.SECRET_KEY)
    return Keyring(keys if derived in keys else (*keys, derived))


def secrets_reseal(progress: Callable[[str, int, int], None] | None = None) -> ResealCounts:
    """Seal every stored secret again with the first key of NANOMON_SECRETS_KEY (a plaintext
    one is sealed), a batch of rows per transaction (rows locked while resealed). A secret no
    key opens is left as it is and counted in ``failed``. ``progress(what, done, total)``."""
    ring = rotation_keyring()
    counts = ResealCounts()
    monitor_ids = list(
        Monitor.objects.filter(kind__in=_monitor_kinds())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(monitor_ids), BATCH):
        with transaction.atomic():
            rows = Monitor.objects.select_for_update().filter(
                pk__in=monitor_ids[start : start + BATCH]
            )
            for pk, kind, properties in rows.values_list("pk", "kind", "properties"):
                resealed = dict(properties or {})
                try:
                    for name, value in _monitor_secrets(kind, properties):
                        resealed[name] = ring.reseal(value)
                except SecretsKeyError:
                    counts.failed.monitors.append(pk)
                    continue
                if resealed != (properties or {}):
                    Monitor.objects.filter(pk=pk).update(properties=resealed)
                    counts.monitors += 1
        if progress is not None:
            progress("monitors", min(start + BATCH, len(monitor_ids)), len(monitor_ids))
    channel_ids = list(Channel.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(channel_ids), BATCH):
        with transaction.atomic():
            rows = Channel.objects.select_for_update().filter(
                pk__in=channel_ids[start : start + BATCH]
            )
            for pk, kind, config in rows.values_list("pk", "kind", "config"):
                resealed = dict(config or {})
                try:
                    for name, value in _channel_secrets(kind, config):
                        text = value if is_sealed(value) else json.dumps(value, ensure_ascii=False)
                        resealed[name] = ring.reseal(text)
                except SecretsKeyError:
                    counts.failed.channels.append(pk)
                    continue
                if resealed != (config or {}):
                    Channel.objects.filter(pk=pk).update(config=resealed)
                    counts.channels += 1
        if progress is not None:
            progress("channels", min(start + BATCH, len(channel_ids)), len(channel_ids))
    return counts
