"""Django admin for results: read-only, filterable by status and monitor."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from lib.status import status_badge
from results.models import MonitorState, Result


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ["date", "monitor_name", "monitor_target", "status_label", "value", "message"]
    list_filter = ["status", "monitor__kind"]
    search_fields = ["monitor_name", "monitor_target", "message"]
    date_hierarchy = "date"
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is slow
    raw_id_fields = ["monitor"]

    @admin.display(description="status", ordering="status")
    def status_label(self, result: Result) -> str:
        return status_badge(result.status)


@admin.register(MonitorState)
class MonitorStateAdmin(ReadOnlyAdmin):
    list_display = [
        "monitor",
        "status_label",
        "last_run_at",
        "last_value",
        "consecutive_failures",
        "last_message",
    ]
    list_filter = ["last_status"]
    search_fields = ["monitor__name", "monitor__target"]
    list_select_related = ["monitor"]

    @admin.display(description="status", ordering="last_status")
    def status_label(self, state: MonitorState) -> str:
        return status_badge(state.last_status)
