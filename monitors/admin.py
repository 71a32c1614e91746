"""Django admin for monitors: saves go through the services so schedules reset properly."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from lib.status import Status, status_badge, status_style
from monitors.models import Monitor
from monitors.services import monitor_delete, monitor_save


class MonitorForm(forms.ModelForm):
    """Keeps names, targets and rules exactly as typed (Django forms strip by default)."""

    name = forms.CharField(max_length=200, strip=False)
    target = forms.CharField(max_length=2048, strip=False)
    interval = forms.CharField(
        max_length=64, strip=False, help_text=Monitor._meta.get_field("interval").help_text
    )
    rule = forms.CharField(
        max_length=4096, strip=False, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = Monitor
        fields = ["name", "kind", "target", "interval", "rule", "enabled", "properties"]


class CurrentStatusFilter(admin.SimpleListFilter):
    title = "current status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        unknown = status_style(None)[0]
        return [(str(value), label) for value, label in Status.choices] + [("none", unknown)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "none":
            return queryset.filter(state__last_status__isnull=True)
        if self.value() is not None:
            return queryset.filter(state__last_status=self.value())
        return queryset


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    form = MonitorForm
    list_display = [
        "name",
        "kind",
        "target",
        "interval",
        "enabled",
        "current_status",
        "last_run",
        "consecutive_failures",
    ]
    list_filter = ["kind", "enabled", CurrentStatusFilter]
    search_fields = ["name", "target"]
    list_select_related = ["state"]
    readonly_fields = [
        "current_status",
        "last_run",
        "consecutive_failures",
        "last_message",
        "next_run_at",
        "created_at",
        "updated_at",
    ]
    actions = ["run_now"]

    @admin.display(description="status", ordering="state__last_status")
    def current_status(self, monitor: Monitor) -> str:
        state = getattr(monitor, "state", None)
        return status_badge(state.last_status if state else None, enabled=monitor.enabled)

    @admin.display(description="last run", ordering="state__last_run_at")
    def last_run(self, monitor: Monitor):
        state = getattr(monitor, "state", None)
        return state.last_run_at if state else None

    @admin.display(description="failures in a row", ordering="state__consecutive_failures")
    def consecutive_failures(self, monitor: Monitor) -> int:
        state = getattr(monitor, "state", None)
        return state.consecutive_failures if state else 0

    @admin.display(description="last message")
    def last_message(self, monitor: Monitor) -> str:
        state = getattr(monitor, "state", None)
        return state.last_message if state else ""

    def save_model(self, request: HttpRequest, obj: Monitor, form, change: bool) -> None:
        monitor_save(obj)

    def delete_model(self, request: HttpRequest, obj: Monitor) -> None:
        monitor_delete(obj)

    @admin.action(description="Run the selected monitors now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for monitor in queryset:
            monitor_save(monitor)
        self.message_user(request, f"{queryset.count()} monitor(s) will run within seconds.")
