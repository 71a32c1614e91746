"""Query filters for the monitor list: ``?type=http&enabled=true&status=0&search=web``."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.permissions import may_see_secrets
from monitors.models import Monitor
from monitors.selectors import searched
from results.models import Status


class MonitorFilter(django_filters.FilterSet):
    """Filters for ``GET /api/monitors``; a bad value is a 400 naming the parameter."""

    type = django_filters.ChoiceFilter(
        field_name="kind", choices=Monitor.Kind.choices, help_text="Only monitors of this type."
    )
    enabled = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_enabled",
        help_text="Only enabled (true) or disabled (false) monitors.",
    )
    status = django_filters.ChoiceFilter(
        choices=[(str(value), label) for value, label in Status.choices],
        method="filter_status",
        help_text="Only monitors whose last run had this status: 0 OK, 1 Error, 2 Failed.",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Case-insensitive text found in the name or the target (without its "
        "query, fragment or user info unless you may change monitors).",
    )

    class Meta:
        model = Monitor
        fields = ["type", "enabled", "status", "search"]

    def filter_search(self, queryset: QuerySet[Monitor], name: str, value: str):
        user = getattr(self.request, "user", None)
        return searched(queryset, value, reveal_secrets=may_see_secrets(user))

    def filter_enabled(self, queryset: QuerySet[Monitor], name: str, value: str):
        return queryset.filter(enabled=value == "true")

    def filter_status(self, queryset: QuerySet[Monitor], name: str, value: str):
        return queryset.filter(state__last_status=int(value))
