"""Django admin for alerting: channels (with "send test notification" and their health),
per-monitor policies, and read-only views of states, transitions, notifications and attempts.

Channel secrets never appear: lists show a masked summary, forms leave secret fields blank.
Writes go through ``alerts.configuration``, ``alerts.delivery`` and ``alerts.outbox``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from alerts import selectors
from alerts.channels import REGISTRY
from alerts.configuration import alert_policy_set, channel_delete, channel_save
from alerts.delivery import channel_send_test
from alerts.forms import ChannelForm, config_field_name
from alerts.models import (
    AlertState,
    Channel,
    DeliveryAttempt,
    MonitorAlertPolicy,
    Notification,
    Transition,
)
from alerts.outbox import notifications_retry

HEALTH_COLOURS = {"ok": "#146c2e", "failing": "#b3261e", "unused": "#5f6368"}


def health_badge(channel: Channel) -> str:
    health = selectors.channel_health(channel)
    if health.state == "failing":
        label = f"Failing ({health.failures_in_row} in a row)"
    else:
        label = {"ok": "OK", "unused": "Not used yet"}[health.state]
    return format_html('<b style="color:{}">{}</b>', HEALTH_COLOURS[health.state], label)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = [
        "name",
        "kind",
        "enabled",
        "is_default",
        "tag_list",
        "destination",
        "health",
        "error",
    ]
    list_filter = ["kind", "enabled", "is_default"]
    search_fields = ["name"]
    actions = ["send_test_notification"]
    readonly_fields = [
        "configuration",
        "health",
        "failures_in_row",
        "last_error",
        "last_attempt_at",
        "last_success_at",
        "last_failure_at",
    ]

    def get_form(self, request: HttpRequest, obj: Channel | None = None, **kwargs: object):
        # The per-kind config fields are added by the form itself, not by the model.
        kwargs["fields"] = list(ChannelForm.Meta.fields)
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None):
        fieldsets = [(None, {"fields": list(ChannelForm.Meta.fields)})]
        if obj is not None and obj.builtin:
            fieldsets.append(
                (
                    "Configuration (from the ALERT_SMTP_* environment variables)",
                    {"fields": ["configuration"]},
                )
            )
        else:
            for kind, transport in REGISTRY.items():
                shown = obj is None or obj.kind == kind
                fields = [config_field_name(kind, spec.name) for spec in transport.fields]
                fieldsets.append(
                    (
                        f"{transport.label} settings"
                        + ("" if shown else " (only when changing the kind)"),
                        {"fields": fields, "classes": [] if shown else ["collapse"]},
                    )
                )
        if obj is not None:
            fieldsets.append(
                (
                    "Health",
                    {
                        "fields": [
                            "health",
                            "failures_in_row",
                            "last_error",
                            "last_attempt_at",
                            "last_success_at",
                            "last_failure_at",
                        ]
                    },
                )
            )
        return fieldsets

    @admin.display(description="tags")
    def tag_list(self, channel: Channel) -> str:
        return ", ".join(channel.tags or [])

    @admin.display(description="sends to")
    def destination(self, channel: Channel) -> str:
        return selectors.channel_summary(channel)

    @admin.display(description="health", ordering="-failures_in_row")
    def health(self, channel: Channel) -> str:
        return health_badge(channel)

    @admin.display(description="last error")
    def error(self, channel: Channel) -> str:
        return channel.last_error[:120] if channel.failures_in_row else ""

    @admin.display(description="configuration")
    def configuration(self, channel: Channel) -> str:
        config = selectors.channel_public_config(channel)
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((key, value) for key, value in config.items())
        )
        return format_html("<p>{}</p><table>{}</table>", selectors.channel_summary(channel), rows)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        failing = list(selectors.channels_failing()[:5])
        if failing and request.method == "GET":
            names = ", ".join(f"{channel.name} ({channel.last_error[:80]})" for channel in failing)
            self.message_user(request, f"Failing channels: {names}", messages.WARNING)
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: Channel, form: ChannelForm, change: bool):
        # The form ran the transport's checks already (errors show next to their fields).
        channel_save(obj, config=None if form.is_builtin else form.cleaned_config)

    def has_delete_permission(self, request: HttpRequest, obj: Channel | None = None) -> bool:
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        channel_delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for channel in queryset.filter(builtin__isnull=True):
            channel_delete(channel)
        if queryset.filter(builtin__isnull=False).exists():
            self.message_user(request, "The built-in channel was kept.", messages.WARNING)

    @admin.action(description="Send a test notification", permissions=["change"])
    def send_test_notification(self, request: HttpRequest, queryset: QuerySet) -> None:
        for channel in queryset:
            outcome = channel_send_test(channel)
            if outcome.succeeded:
                self.message_user(request, f"{channel.name}: test notification sent.")
            else:
                self.message_user(
                    request, f"{channel.name}: test failed: {outcome.error}", messages.ERROR
                )


@admin.register(MonitorAlertPolicy)
class MonitorAlertPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "monitor",
        "fail_threshold",
        "recover_threshold",
        "reminder_minutes",
        "muted",
        "use_default_channels",
    ]
    list_filter = ["muted", "use_default_channels"]
    search_fields = ["monitor__name", "monitor__target"]
    autocomplete_fields = ["monitor"]
    filter_horizontal = ["channels", "escalation_channels"]
    list_select_related = ["monitor"]

    def save_model(self, request: HttpRequest, obj: MonitorAlertPolicy, form, change: bool) -> None:
        alert_policy_set(
            obj.monitor,
            fail_threshold=obj.fail_threshold,
            recover_threshold=obj.recover_threshold,
            reminder_minutes=obj.reminder_minutes,
            muted=obj.muted,
            use_default_channels=obj.use_default_channels,
            channels=form.cleaned_data.get("channels", []),
            escalate_after_minutes=obj.escalate_after_minutes,
            escalation_channels=form.cleaned_data.get("escalation_channels", []),
        )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        for formset in formsets:  # the channels were set by alert_policy_set
            self.save_formset(request, form, formset, change=change)


@admin.register(AlertState)
class AlertStateAdmin(ReadOnlyAdmin):
    list_display = ["monitor", "state", "changed_at", "ok_streak", "reminders_sent"]
    list_filter = ["state"]
    search_fields = ["monitor__name", "monitor__target"]
    list_select_related = ["monitor"]


class NotificationInline(admin.TabularInline):
    model = Notification
    fields = ["channel", "event", "status", "attempts", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("channel")  # one query, not one per row


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = ["happened_at", "monitor_name", "from_state", "to_state", "failures", "reason"]
    list_filter = ["to_state", "from_state"]
    search_fields = ["monitor_name", "monitor_target", "reason"]
    date_hierarchy = "happened_at"
    raw_id_fields = ["monitor", "result"]
    inlines = [NotificationInline]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "started_at", "finished_at", "succeeded", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "event",
        "channel",
        "monitor_name",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "event", "channel"]
    search_fields = ["transition__monitor_name", "last_error"]
    list_select_related = ["channel", "transition"]
    raw_id_fields = ["transition"]
    exclude = ["claim_token"]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]

    @admin.display(description="monitor")
    def monitor_name(self, notification: Notification) -> str:
        return notification.transition.monitor_name if notification.transition else "(test)"

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("alerts.change_notification")

    @admin.action(description="Send the selected notifications again now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = notifications_retry(queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} notification(s) queued.")
