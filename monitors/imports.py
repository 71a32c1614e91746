"""Importing monitors in bulk: all validated first, then all stored in one transaction.

NanoMon appended monitors one by one, so a bad element left a partial import. Here the first
bad element stops the import before anything is written, and ``replace`` swaps the whole set
(existing monitors and their results deleted) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lib.errors import first_error_message
from monitors.autodetect import decide_kind
from monitors.models import Monitor
from monitors.probes import REGISTRY
from monitors.secrets import MASK, masked_target_problem
from monitors.services import (
    EDITABLE_FIELDS,
    monitor_save,
    monitors_delete_all,
    request_dispatch,
)
from monitors.validation import check_monitor_definition


def monitors_import(
    definitions: Sequence[Mapping[str, object]],
    *,
    replace: bool = False,
    now: datetime | None = None,
) -> list[Monitor]:
    """Create a monitor for each definition (editable fields, as ``monitor_create`` takes them).

    Raises ``ValidationError("monitor <n>: <reason>")`` for the first bad definition (``n``
    counts from 1) and stores nothing. A secret property still holding the mask of an export
    made by someone who could not see secrets is refused rather than stored as the secret.
    With ``replace``, every existing monitor and its results go in the same transaction.
    """
    now = now or timezone.now()
    monitors = []
    for number, fields in enumerate(definitions, start=1):
        try:
            monitors.append(_checked_monitor(fields))
        except ValidationError as error:
            raise ValidationError(f"monitor {number}: {first_error_message(error)}") from None
    with transaction.atomic():
        if replace:
            monitors_delete_all()
        for monitor in monitors:
            monitor_save(monitor, now=now, dispatch=False)
        if any(monitor.enabled for monitor in monitors):
            transaction.on_commit(request_dispatch)  # one dispatch for the whole import
    return monitors


def _checked_monitor(fields: Mapping[str, object]) -> Monitor:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable monitor fields: {', '.join(sorted(unknown))}")
    monitor = Monitor(**fields)
    # No type: the target decides it (and an http monitor's rule), as in the API.
    monitor.kind, monitor.rule = decide_kind(monitor.kind, monitor.target, monitor.rule)
    try:
        check_monitor_definition(
            name=monitor.name,
            kind=monitor.kind,
            interval=monitor.interval,
            target=monitor.target,
            rule=monitor.rule,
            properties=monitor.properties,
        )
    except ValidationError as error:
        # The contract's messages say what is wrong on their own ("missing monitor name").
        raise ValidationError(error.messages[0]) from None
    message = masked_secret_problem(monitor.kind, monitor.properties, target=monitor.target)
    if message is not None:
        raise ValidationError(message)
    monitor.full_clean()
    return monitor


def masked_secret_problem(
    kind: str, properties: Mapping[str, object] | None, *, target: str = ""
) -> str | None:
    """Why ``properties`` (or ``target``) cannot be stored because a secret in it is still
    masked, or None.

    A masked value comes from an export or a read by someone who could not see the secret;
    storing it would replace the secret with the mask.
    """
    if (problem := masked_target_problem(target)) is not None:
        return problem
    probe_type = REGISTRY.get(kind)
    if probe_type is None:
        return None
    for spec in probe_type.properties:
        value = (properties or {}).get(spec.name)
        if spec.secret and isinstance(value, str) and MASK in value:
            return (
                f"property '{spec.name}' holds a masked secret: export it as a user who may "
                "change monitors"
            )
    return None
