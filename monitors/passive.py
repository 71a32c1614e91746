"""Deadlines of passive (push) monitors: when a ping expected after a moment is late.

Kept apart from ``monitors.scheduling`` (the dispatcher's claims), which the monitor writers
(``monitors.services``) and, through them, the results app must not import (.importlinter).
"""

from __future__ import annotations

from datetime import datetime

from lib.durations import parse_duration
from monitors.models import Monitor
from monitors.probes import REGISTRY


def passive_deadline(monitor: Monitor, moment: datetime) -> datetime:
    """A passive (push) monitor's deadline for a ping expected after ``moment`` (a ping or a
    save); ``ValueError`` when its properties are not valid."""
    probe = REGISTRY[monitor.kind]
    parsed = probe.parse_properties(monitor.properties or {})
    return probe.passive.deadline_after(moment, parse_duration(monitor.interval), parsed)


def passive_following(monitor: Monitor, claimed: datetime, now: datetime) -> datetime:
    """A passive monitor's deadline after the one just claimed (``claimed``): the one for the
    ping expected next, or, after a stopped dispatcher, the first such deadline still to come."""
    probe = REGISTRY[monitor.kind]
    parsed = probe.parse_properties(monitor.properties or {})
    interval = monitor.interval_duration.total_seconds()
    passive = probe.passive
    following = passive.deadline_after(passive.expected(claimed, parsed), interval, parsed)
    for _ in range(10_000):
        if following > now:
            break
        following = passive.deadline_after(passive.expected(following, parsed), interval, parsed)
    return following
