"""The Monitor: what to probe, how often, and where its schedule stands; and the "Test now"
checks waiting on a worker (``monitors.oneoff``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from lib.durations import parse_duration
from monitors.engine import CheckRequest
from monitors.probes import kind_choices
from monitors.secrets import sealed_properties
from monitors.tags import group_problem, tags_normalized


class Monitor(models.Model):
    """One user-defined check, run on its own interval by the workers."""

    # The monitor types, from the probe registry: Monitor.Kind.HTTP == "http", labelled "HTTP".
    Kind = models.TextChoices(
        "Kind", [(kind.upper(), (kind, label)) for kind, label in kind_choices()]
    )

    name = models.CharField(max_length=200, help_text="Stored exactly as written.")
    kind = models.CharField("type", max_length=16, choices=Kind.choices)
    target = models.CharField(max_length=2048, help_text="URL, host:port or host, by type.")
    interval = models.CharField(
        max_length=64, help_text="Go-style duration as written: 30s, 1m, 1.5h, 1h30m."
    )
    interval_duration = models.DurationField(
        editable=False, help_text="The interval parsed; kept in step with `interval` on save."
    )
    rule = models.TextField(blank=True, max_length=4096)
    enabled = models.BooleanField(default=True)
    properties = models.JSONField(default=dict, blank=True)
    # NanoMon upstream's optional group: monitors of a group are one section of the pages.
    group = models.CharField(max_length=100, blank=True, default="")
    # Labels to filter and select by (maintenance, policies): a sorted list of distinct
    # strings (monitors.tags), e.g. ["db", "prod"].
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Scheduling. `next_run_at` is the next slot the dispatcher will claim (null: disabled).
    # A claim stamps `run_token` and holds the monitor until `lease_until`, so runs never
    # overlap and a lost task is re-claimed once the lease has passed.
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    run_token = models.UUIDField(null=True, blank=True, editable=False)

    # This monitor's definition as the API list writes it, kept by a PostgreSQL trigger on
    # every insert and every change of a listed column, whatever path wrote it (migration
    # 0002, monitors/api/listing.py). Empty on other databases, which do not read it.
    listed_json = models.TextField(blank=True, default="", editable=False)

    # A push monitor's secret: its ping URLs are /ping/<token>… (loop.pings). Set when a push
    # monitor is saved without one; rotated on request; null for every other type.
    push_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The dispatcher's query: enabled monitors whose next slot has come.
            models.Index(fields=["next_run_at"], condition=Q(enabled=True), name="monitor_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.interval_duration = timedelta(seconds=parse_duration(self.interval))
        # Secret properties are stored sealed (monitors.secrets, docs/security.md).
        self.properties = sealed_properties(self.kind, self.properties)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "interval" in update_fields:
            kwargs["update_fields"] = {*update_fields, "interval_duration"}
        super().save(*args, **kwargs)

    def check_request(self, memory: dict | None = None) -> CheckRequest:
        """This monitor's definition as the engine takes it (``memory``: what its last run
        remembered, for a remembering type)."""
        return CheckRequest(
            kind=self.kind,
            target=self.target,
            properties=self.properties or {},
            rule=self.rule,
            memory=memory,
            interval=self.interval,
        )

    def clean(self) -> None:
        from monitors.validation import check_monitor_definition

        check_monitor_definition(
            name=self.name,
            kind=self.kind,
            interval=self.interval,
            target=self.target,
            rule=self.rule,
            properties=self.properties,
        )
        if (problem := group_problem(self.group or "")) is not None:
            raise ValidationError({"group": problem})
        try:
            self.tags = tags_normalized(self.tags)
        except ValueError as error:
            raise ValidationError({"tags": str(error)}) from None


class OneOffCheck(models.Model):
    """A "Test now" waiting for its result: one row per waiting request, written by the web
    process that waits and deleted when it stops waiting, so a user's tests in flight are
    counted across every web process. ``slot`` (0 to NANOMON_TEST_PER_USER - 1) is unique
    per user: a test that finds every slot taken is refused."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    # After this the row is a leftover (its web process died while waiting): dropped.
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "slot"], name="oneoff_check_user_slot_uniq")
        ]
        default_permissions = ()  # internal: no admin, no role holds anything on it

    def __str__(self) -> str:
        return f"test {self.id} of user {self.user_id}"


class OneOffResult(models.Model):
    """A "Test now" result, written by the worker that ran the check and read (then deleted)
    by the request waiting for it. No foreign key to ``OneOffCheck``: the worker never waits
    on the web process's rows."""

    check_id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    result = models.JSONField()

    class Meta:
        default_permissions = ()  # internal: no admin, no role holds anything on it

    def __str__(self) -> str:
        return f"result of test {self.check_id}"
