"""Badges at Uptime Kuma's paths, so a README written for Uptime Kuma works against NanoMon
(docs/api.md, Badges):

- ``/api/badge/{id}/status``: Up (OK), Down (Error or Failed), Pending (no run yet), Paused
  (disabled; a NanoMon addition: ``pausedLabel``, ``pausedColor``);
- ``/api/badge/{id}/uptime/{duration}``: share of OK runs, from the rollups;
- ``/api/badge/{id}/ping/{duration}`` and ``/avg-response/{duration}``: average value;
- ``/api/badge/{id}/cert-exp``: days until the certificate expires (``certExpiryDays`` of the
  last run of an https monitor; ``date=true`` shows the date instead);
- ``/api/badge/{id}/response``: the last run's value.

A duration is Uptime Kuma's: a number of hours (``24``) or a number and a unit, ``m`` (rounded
up to whole hours: rollups are hourly), ``h``, ``d``, ``w``, ``M`` (30 days) or ``y`` (365
days); the default is 24 hours. Parameters as Uptime Kuma's: ``label``, ``labelPrefix``,
``labelSuffix``, ``prefix``, ``suffix``, ``color``, ``labelColor``, ``style``, and per badge
``upLabel``, ``downLabel``, ``pendingLabel``, ``upColor``, ``downColor``, ``pendingColor``,
``warnColor``, ``warnDays``, ``downDays``, ``date``. A bad parameter is a 400 problem.

Who sees what: a badge answers for a monitor only to callers who may read it (signed in, or
everyone with ``NANOMON_PUBLIC_READ=true``). An unknown monitor and a monitor the caller may
not read get the SAME grey ``N/A`` badge (200, as Uptime Kuma answers a monitor that is not
public): no name, no status, nothing tells the two apart.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from accounts.roles import may_read
from lib.formatting import format_number, format_percent
from lib.status import Status
from monitors.models import Monitor
from monitors.selectors import monitor_get
from results.history import rollup_series, uptime_by_period
from web.badges import LABEL_COLOUR, STYLES, Badge, BadgeError, colour, render_badge
from web.views.charts import SvgView

NA_COLOUR = "#999"
UP_COLOUR, DOWN_COLOUR, WARN_COLOUR = "#66c20a", "#c2290a", "#eed202"
PENDING_COLOUR, PING_COLOUR = "#f8a306", "blue"
_DURATION = re.compile(r"([0-9]{1,6})([mhdwMy]?)")
_HOURS_PER = {"m": 1 / 60, "h": 1, "": 1, "d": 24, "w": 168, "M": 720, "y": 8760}
MAX_HOURS = 3650 * 24  # ten years
HOURLY_UP_TO = 31 * 24  # longer averages read day rollups


def duration_hours(text: str) -> tuple[int, str, str]:
    """(whole hours, number, unit) of an Uptime Kuma duration (``24``, ``7d``, ``1y``)."""
    match = _DURATION.fullmatch(text)
    if not match or int(match[1]) == 0:
        raise ValidationError(
            f"duration must be a number of hours or a number and a unit (m, h, d, w, M, y), "
            f"e.g. 24, 24h, 7d, 30d, 1y; got {text[:40]!r}"
        )
    hours = math.ceil(int(match[1]) * _HOURS_PER[match[2]])
    if hours > MAX_HOURS:
        raise ValidationError(f"duration must be at most 10 years, got {text[:40]!r}")
    return hours, match[1], match[2] or "h"


COLOUR_PARAMETERS = (
    "color",
    "labelColor",
    "upColor",
    "downColor",
    "pendingColor",
    "pausedColor",
    "warnColor",
    "maintenanceColor",
)


def _check(params, duration: str | None) -> None:
    """Refuse a bad parameter (``BadgeError``/``ValidationError`` naming it)."""
    for name in COLOUR_PARAMETERS:
        if params.get(name):
            colour(params[name], name)
    style = params.get("style") or "flat"
    if style not in STYLES:
        raise BadgeError(f"style must be one of {', '.join(STYLES)}, got {style[:40]!r}")
    for name in ("warnDays", "downDays"):
        if name in params:
            _whole(params[name], name)
    if "date" in params:
        _flag(params.get("date", ""))
    if duration is not None:
        duration_hours(duration)


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in {"", "false", "0", "no", "off"}:
        return False
    if word in {"true", "1", "yes", "on"}:
        return True
    raise ValidationError(f"date must be true or false, got {raw[:40]!r}")


class BadgeView(SvgView):
    """One badge route; ``badge()`` answers the badge of a monitor the caller may read."""

    permission_classes = [AllowAny]  # who may read is decided below: an N/A badge, not a 401
    default_label = ""
    value_suffix = ""

    def get(self, request: Request, monitor_id: str, duration: str = "24") -> HttpResponse:
        params = self.params = request.query_params
        try:
            # Every parameter is checked before the monitor is looked up: an unknown monitor and
            # a known one answer a bad parameter alike.
            _check(params, duration if self.default_label.endswith("({n})") else None)
            style = params.get("style", "flat") or "flat"
            label_colour = colour(params.get("labelColor") or LABEL_COLOUR, "labelColor")
            monitor = self._monitor(request, monitor_id)
            if monitor is None:
                badge = Badge(self.label(duration), "N/A", NA_COLOUR, label_colour, style)
            else:
                badge = self.badge(monitor, duration, label_colour, style)
            document = render_badge(badge)
        except BadgeError as error:
            raise ValidationError(str(error)) from None
        return self.svg(document)

    @staticmethod
    def _monitor(request: Request, monitor_id: str) -> Monitor | None:
        if not may_read(request.user) or not monitor_id.isdigit() or len(monitor_id) > 18:
            return None
        try:
            return monitor_get(int(monitor_id))
        except Monitor.DoesNotExist:
            return None

    def colour_param(self, name: str, default: str) -> str:
        value = self.params.get(name, "")
        return colour(value or default, name)

    def label(self, duration: str = "") -> str:
        text = self.params.get("label")
        if text is None:
            text = self.default_label
            if "{n}" in text:
                _, number, unit = duration_hours(duration)
                text = text.format(n=number + self.params.get("labelSuffix", unit))
                return self.params.get("labelPrefix", "") + text
        return self.params.get("labelPrefix", "") + text + self.params.get("labelSuffix", "")

    def message(self, text: str) -> str:
        return self.params.get("prefix", "") + text + self.params.get("suffix", self.value_suffix)

    def badge(self, monitor: Monitor, duration: str, label_colour: str, style: str) -> Badge:
        raise NotImplementedError


class StatusBadge(BadgeView):
    default_label = "Status"

    def badge(self, monitor, duration, label_colour, style):
        state = getattr(monitor, "state", None)
        status = state.last_status if state is not None else None
        if not monitor.enabled:
            word, tint = "paused", NA_COLOUR
        elif status is None:
            word, tint = "pending", PENDING_COLOUR
        elif status == Status.OK:
            word, tint = "up", UP_COLOUR
        else:
            word, tint = "down", DOWN_COLOUR
        text = self.params.get(f"{word}Label", word.capitalize())
        label = self.params.get("label", self.default_label)
        return Badge(label, text, self.colour_param(f"{word}Color", tint), label_colour, style)


def uptime_colour(percent: float) -> str:
    for floor, tint in ((99.9, "#4c1"), (99, "#97ca00"), (97, "#a4a61d"), (95, "#dfb317")):
        if percent >= floor:
            return tint
    return "#fe7d37" if percent >= 90 else "#e05d44"


class UptimeBadge(BadgeView):
    default_label = "Uptime ({n})"
    value_suffix = "%"

    def badge(self, monitor, duration, label_colour, style):
        hours, _, _ = duration_hours(duration)
        label = self.label(duration)
        percent = uptime_by_period([monitor.id], (f"{hours}h",))[monitor.id][f"{hours}h"]
        if percent is None:
            return Badge(label, "N/A", NA_COLOUR, label_colour, style)
        tint = self.colour_param("color", uptime_colour(percent))
        return Badge(
            label, self.message(format_percent(percent, sign="")), tint, label_colour, style
        )


class PingBadge(BadgeView):
    default_label = "Avg. Ping ({n})"
    value_suffix = "ms"

    def badge(self, monitor, duration, label_colour, style):
        hours, _, _ = duration_hours(duration)
        label = self.label(duration)
        now = timezone.now()
        resolution = "hour" if hours <= HOURLY_UP_TO else "day"
        buckets = rollup_series(
            monitor.id, since=now - timedelta(hours=hours), until=now, resolution=resolution
        )
        weighted = [
            (bucket.value_avg, bucket.runs_ok + bucket.runs_error)
            for bucket in buckets
            if bucket.value_avg is not None
        ]
        measured = sum(count for _, count in weighted)
        if not measured:
            return Badge(label, "N/A", NA_COLOUR, label_colour, style)
        average = sum(value * count for value, count in weighted) / measured
        tint = self.colour_param("color", PING_COLOUR)
        return Badge(label, self.message(format_number(average)), tint, label_colour, style)


class AverageResponseBadge(PingBadge):
    default_label = "Avg. Response ({n})"


class CertificateBadge(BadgeView):
    default_label = "Cert Exp."
    value_suffix = " days"

    def badge(self, monitor, duration, label_colour, style):
        label = self.label()
        state = getattr(monitor, "state", None)
        outputs = (state.last_outputs if state is not None else None) or {}
        days = outputs.get("certExpiryDays")
        if isinstance(days, bool) or not isinstance(days, int | float):
            return Badge(label, "No/Bad Cert", NA_COLOUR, label_colour, style)
        warn = _whole(self.params.get("warnDays", "14"), "warnDays")
        down = _whole(self.params.get("downDays", "7"), "downDays")
        whole = math.floor(days)
        if whole > warn:
            tint = self.colour_param("upColor", UP_COLOUR)
        elif whole > down:
            tint = self.colour_param("warnColor", WARN_COLOUR)
        else:
            tint = self.colour_param("downColor", DOWN_COLOUR)
        if _flag(self.params.get("date", "")):
            expires = timezone.localtime(state.last_run_at + timedelta(days=days))
            text = (
                self.params.get("prefix", "")
                + f"{expires:%Y-%m-%d}"
                + self.params.get("suffix", "")
            )
        else:
            text = self.message(format_number(whole))
        return Badge(label, text, tint, label_colour, style)


def _whole(raw: str, name: str) -> int:
    if not raw.lstrip("-").isdigit() or len(raw) > 6:
        raise ValidationError(f"{name} must be a whole number of days, got {raw[:40]!r}")
    return int(raw)


class ResponseBadge(BadgeView):
    default_label = "Response"
    value_suffix = "ms"

    def badge(self, monitor, duration, label_colour, style):
        label = self.label()
        state = getattr(monitor, "state", None)
        if state is None or state.last_value is None or state.last_status == Status.FAILED:
            return Badge(label, "N/A", NA_COLOUR, label_colour, style)
        tint = self.colour_param("color", PING_COLOUR)
        return Badge(
            label, self.message(format_number(state.last_value)), tint, label_colour, style
        )
