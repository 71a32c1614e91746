"""Alert history (docs/alerting.md, History): outages, newest first, each with what was seen,
its notifications and their delivery attempts. One reading for the API and the pages.

An outage starts with a transition to down and ends with the monitor's next transition (to
up, or to unknown when alerting was reset); while none follows, it is ongoing. Its first
message is the down transition's reason, its last message the last non-OK run's message
before it ended (the first message again once retention dropped those runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.models import AlertLevel, DeliveryAttempt, Notification, Transition
from lib.status import Status
from results.models import Result

# The end of an outage still going on, for the last message's subquery.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class Outage:
    """One outage: ``down`` opened it, ``end`` closed it (None: still down)."""

    down: Transition
    end: Transition | None
    last_message: str
    seen: Result | None  # the run that opened it (None once retention dropped it)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def started_at(self) -> datetime:
        return self.down.happened_at

    @property
    def ended_at(self) -> datetime | None:
        return self.end.happened_at if self.end else None

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def duration_seconds(self, now: datetime | None = None) -> float:
        """Start to end (to ``now`` while ongoing)."""
        until = self.ended_at or now or timezone.now()
        return max(0.0, (until - self.started_at).total_seconds())

    @property
    def duration_text(self) -> str:
        return duration_text(self.duration_seconds())


def duration_text(seconds: float) -> str:
    """``2 h 5 min``, ``4 min 10 s``, ``12 s``."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _notifications() -> Prefetch:
    attempts = Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("number"))
    return Prefetch(
        "notifications",
        queryset=Notification.objects.select_related("channel")
        .prefetch_related(attempts)
        .order_by("created_at", "id"),
    )


def outages(
    *,
    monitor_id: int | None = None,
    before: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Outage]:
    """Outages newest first (by start), ``limit`` of them, after the cursor ``before`` /
    ``before_id`` (the start and down transition id of the previous page's last one).

    Queries for a page, whatever its size: the down transitions, each with its outage's last
    message (a subquery over the monitor's results between the down and the transition that
    ended it, on their ``(monitor, -date)`` index); the transitions that ended them; the runs
    that opened them; and the notifications with their attempts (prefetched)."""
    downs = Transition.objects.filter(to_state=AlertLevel.DOWN).prefetch_related(_notifications())
    if monitor_id is not None:
        downs = downs.filter(monitor_id=monitor_id)
    if before is not None:
        older = Q(happened_at__lt=before)
        if before_id is not None:
            older |= Q(happened_at=before, id__lt=before_id)
        downs = downs.filter(older)
    ended = Transition.objects.filter(
        monitor_id=OuterRef("monitor_id"),
        from_state=AlertLevel.DOWN,
        state_version__gt=OuterRef("state_version"),
    ).order_by("state_version")
    last_failure = (
        Result.objects.filter(
            monitor_id=OuterRef("monitor_id"),
            date__gte=OuterRef("happened_at"),
            date__lt=Coalesce(OuterRef("ended_at"), Value(FAR_FUTURE)),
        )
        .exclude(status=Status.OK)
        .order_by("-date", "-id")
        .values("message")[:1]
    )
    page = list(
        downs.annotate(ended_at=Subquery(ended.values("happened_at")[:1]))
        .annotate(last_failure=Subquery(last_failure))
        .order_by("-happened_at", "-id")[:limit]
    )
    if not page:
        return []
    # The transitions that ended them (from down to up or unknown), and the runs that opened
    # them, each in one query for the page.
    ends: dict[int, list[Transition]] = {}
    for end in (
        Transition.objects.filter(
            monitor_id__in={down.monitor_id for down in page},
            from_state=AlertLevel.DOWN,
            happened_at__gte=min(down.happened_at for down in page),
        )
        .prefetch_related(_notifications())
        .order_by("state_version")
    ):
        ends.setdefault(end.monitor_id, []).append(end)
    runs_seen = Result.objects.in_bulk([d.result_id for d in page if d.result_id is not None])
    found = []
    for down in page:
        end = next(
            (e for e in ends.get(down.monitor_id, []) if e.state_version > down.state_version),
            None,
        )
        notifications = list(down.notifications.all())
        if end is not None:
            notifications += list(end.notifications.all())
        found.append(
            Outage(
                down=down,
                end=end,
                last_message=down.last_failure or down.reason,
                seen=runs_seen.get(down.result_id),
                notifications=notifications,
            )
        )
    return found
