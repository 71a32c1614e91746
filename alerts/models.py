"""Alerting: where each monitor stands (up/down), the transitions between those states, the
channels notifications go to, and the outbox of notifications with their delivery log.

The flow (``alerts.transitions``, ``alerts.outbox``, ``alerts.delivery``): the loop's
``batch_record`` calls ``transitions_record`` inside its transaction; a transition claims the
monitor's ``AlertState`` with a conditional update and writes one ``Notification`` per channel
(the outbox) in the same transaction; delivery tasks on the ``alerts`` queue claim a
notification, send it, and log a ``DeliveryAttempt``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from alerts.channels import REGISTRY as transports
from alerts.channels import kind_choices
from monitors.models import Monitor
from results.models import Result


class AlertLevel(models.TextChoices):
    """What alerting believes about a monitor."""

    UNKNOWN = "unknown", "Unknown"
    UP = "up", "Up"
    DOWN = "down", "Down"


class Channel(models.Model):
    """Somewhere notifications go: an email server and recipients, a webhook, Apprise URLs.

    ``config`` holds the kind's settings as declared by its transport in ``alerts.channels``
    (secrets included: read it only through ``alerts.selectors.channel_public_config`` when
    showing it). The built-in channel (``builtin`` set) takes its settings from the
    ``ALERT_SMTP_*`` variables instead of ``config``.
    """

    # The channel kinds, from the channel registry: Channel.Kind.EMAIL == "email".
    Kind = models.TextChoices(
        "Kind", [(kind.upper(), (kind, label)) for kind, label in kind_choices()]
    )

    BUILTIN_SETTINGS_EMAIL = "settings-email"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(default=True, help_text="Disabled channels send nothing.")
    is_default = models.BooleanField(
        "default channel",
        default=True,
        help_text="Used by every monitor that has no channel selection of its own.",
    )
    # Routing by tag (monitors.tags), read at send time (alerts.outbox.channel_ids_by_monitor).
    tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Monitors with any of these tags also notify this channel, whatever their own "
        "channel selection (defaults or their own).",
    )
    config = models.JSONField(default=dict, blank=True)
    builtin = models.CharField(
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Set on the channel configured by environment variables (not deletable).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Health, from the delivery attempts (kept here so lists need no aggregate query).
    last_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    failures_in_row = models.PositiveIntegerField(
        default=0, editable=False, help_text="Failed delivery attempts since the last success."
    )
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # channels_failing(): the channels whose latest attempts failed.
            models.Index(
                fields=["-failures_in_row"],
                condition=Q(failures_in_row__gt=0),
                name="alerts_channel_failing_idx",
            ),
        ]

    def __str__(self) -> str:
        # Never the config: it may hold passwords, tokens or URLs with credentials.
        return f"{self.name} ({self.get_kind_display()})"

    def save(self, *args, **kwargs) -> None:
        # Secret settings are stored sealed (Transport.sealed_config, docs/security.md).
        transport = transports.get(self.kind)
        if transport is not None and self.config:
            self.config = transport.sealed_config(self.config)
        super().save(*args, **kwargs)


class MonitorAlertPolicy(models.Model):
    """How one monitor alerts, when it differs from the defaults (no row: all defaults)."""

    monitor = models.OneToOneField(
        Monitor, on_delete=models.CASCADE, primary_key=True, related_name="alert_policy"
    )
    fail_threshold = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Non-OK runs in a row that make it down. Empty: ALERT_FAIL_COUNT.",
    )
    recover_threshold = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="OK runs in a row that make it up again. Empty: ALERT_RECOVER_COUNT.",
    )
    reminder_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Repeat the alert every N minutes while down (0: never). "
        "Empty: ALERT_REMINDER_MINUTES.",
    )
    muted = models.BooleanField(
        default=False, help_text="Keep tracking up/down, but send no notification at all."
    )
    use_default_channels = models.BooleanField(
        default=True, help_text="Notify the default channels; otherwise the channels below."
    )
    channels = models.ManyToManyField(Channel, blank=True, related_name="policies")
    escalate_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Down and unacknowledged this long: also alert the escalation channels "
        "(once per outage). Empty: never.",
    )
    escalation_channels = models.ManyToManyField(
        Channel, blank=True, related_name="escalation_policies"
    )
    canary = models.BooleanField(
        default=False,
        help_text="A self-check of the prober's own connectivity: while every canary is down, "
        "the down alerts of all other monitors are held (alerts.dependencies).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "monitor alert policy"
        verbose_name_plural = "monitor alert policies"

    def __str__(self) -> str:
        return f"alert policy of monitor {self.monitor_id}"


class Transition(models.Model):
    """A monitor's alert state changed (e.g. up -> down), and why. Never updated after insert."""

    id = models.BigAutoField(primary_key=True)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alert_transitions")
    from_state = models.CharField(max_length=8, choices=AlertLevel.choices)
    to_state = models.CharField(max_length=8, choices=AlertLevel.choices)
    reason = models.TextField(blank=True, help_text="The message of the run that caused it.")
    failures = models.PositiveIntegerField(default=0, help_text="Non-OK runs in a row by then.")
    value = models.FloatField(null=True, blank=True, help_text="The run's value (usually ms).")
    # No database constraint: results are partitioned by day on PostgreSQL (primary key
    # (id, date)) and retention drops them, so the result may be gone. Read ``result_id``, or
    # ``transition_result()`` in alerts.selectors, never ``transition.result`` unguarded.
    result = models.ForeignKey(
        Result,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    monitor_name = models.CharField(max_length=200, help_text="The monitor's name at the time.")
    monitor_target = models.CharField(max_length=2048)
    happened_at = models.DateTimeField(help_text="When the run that caused it started.")
    created_at = models.DateTimeField()
    state_version = models.PositiveIntegerField(
        help_text="The AlertState version this transition claimed (one transition per claim)."
    )

    class Meta:
        ordering = ["-happened_at", "-id"]
        constraints = [
            # The idempotency guarantee in the database itself: one claim, one transition.
            models.UniqueConstraint(
                fields=["monitor", "state_version"], name="alerts_transition_claim_uniq"
            ),
        ]
        indexes = [
            # A monitor's alert history, newest first (monitor page, API).
            models.Index(fields=["monitor", "-happened_at"], name="alerts_transition_monitor_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.happened_at:%Y-%m-%d %H:%M:%S}"
        return f"{self.monitor_name}: {self.from_state} -> {self.to_state} at {when}"


class AlertState(models.Model):
    """Where a monitor stands for alerting. Changed only by conditional updates on ``version``."""

    monitor = models.OneToOneField(
        Monitor, on_delete=models.CASCADE, primary_key=True, related_name="alert_state"
    )
    state = models.CharField(max_length=8, choices=AlertLevel.choices, default=AlertLevel.UNKNOWN)
    ok_streak = models.PositiveIntegerField(
        default=0, help_text="OK runs in a row while down (counts toward recovery)."
    )
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every change of state.")
    changed_at = models.DateTimeField(null=True, blank=True)
    last_transition = models.ForeignKey(
        Transition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminders_sent = models.PositiveIntegerField(default=0, help_text="Reminders in this outage.")
    reminded_at = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Down during a maintenance window: its down alert is held until the window "
        "ends (alerts.maintenance).",
    )
    # Acknowledged (alerts.acknowledge): reminders and escalation stop; cleared by any change
    # of state (the recovery, or a new outage).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="When this outage was escalated (once per outage)."
    )

    class Meta:
        indexes = [
            # The sweeper's reminder query: monitors that are down now.
            models.Index(fields=["state"], condition=Q(state="down"), name="alerts_state_down_idx"),
        ]

    def __str__(self) -> str:
        return f"alert state of monitor {self.monitor_id}: {self.state}"


class Notification(models.Model):
    """One message for one channel: the outbox row, written with its transition."""

    class Event(models.TextChoices):
        DOWN = "down", "Down"
        UP = "up", "Recovered"
        REMINDER = "reminder", "Reminder"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its next attempt (next_attempt_at)
        SENDING = "sending", "Sending"  # claimed by a worker until lease_until
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after ALERT_DELIVERY_ATTEMPTS
        CANCELLED = "cancelled", "Cancelled"  # nothing to send any more (monitor disabled…)

    id = models.BigAutoField(primary_key=True)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    transition = models.ForeignKey(
        Transition, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=10, choices=Event.choices)
    sequence = models.PositiveIntegerField(
        default=0, help_text="0 for the transition's own message, n for its n-th reminder."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transition", "channel", "sequence"],
                condition=Q(transition__isnull=False),
                name="alerts_notification_once_uniq",
            ),
        ]
        indexes = [
            # The sweeper: pending notifications whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alerts_notification_due_idx",
            ),
            # The sweeper: claims whose worker died (lease expired).
            models.Index(
                fields=["lease_until"],
                condition=Q(status="sending"),
                name="alerts_notification_lease_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} notification {self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a notification: when, how long, and what went wrong if anything."""

    id = models.BigAutoField(primary_key=True)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField(help_text="1 for the first attempt.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    succeeded = models.BooleanField()
    error = models.TextField(blank=True, help_text="Short reason; never holds a secret.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # A channel's recent attempts (channel page, admin).
            models.Index(fields=["channel", "-started_at"], name="alerts_attempt_channel_idx"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else "failed"
        return f"attempt {self.number} of notification {self.notification_id}: {outcome}"


class Dependency(models.Model):
    """``child`` depends on ``parent`` (a host behind its gateway): while the parent is down,
    the child's down alert is held. Set through ``alerts.dependencies.dependencies_set``
    (refuses cycles)."""

    child = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alert_parents")
    parent = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alert_children")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["child", "parent"], name="alerts_dependency_uniq"),
            models.CheckConstraint(
                condition=~Q(child=models.F("parent")), name="alerts_dependency_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"monitor {self.child_id} depends on monitor {self.parent_id}"


# Maintenance windows live in their own module; imported here so Django registers the model.
from alerts.windows import MaintenanceWindow  # noqa: E402, F401
