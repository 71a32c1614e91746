"""One FilterSet per list, used by the page and the API alike (netbox's ``filtersets.py``)."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from accounts.permissions import may_see_secrets
from lib.status import STATUS_HELP, Status
from monitors.models import Monitor
from monitors.selectors import STATUS_FILTERS, monitors_of_status, searched
from monitors.tags import tag_filter_text, tags_normalized

# The status words of the monitor list: the API's numbers, then the page's names.
STATUS_CHOICES = [
    *((str(value), label) for value, label in Status.choices),
    *((name, name.capitalize()) for name in STATUS_FILTERS),
]


def _tags_valid(value: str) -> None:
    try:
        tags_normalized(value)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class MonitorFilterSet(django_filters.FilterSet):
    """Filters of the monitor list: ``GET /api/monitors`` and the monitors page (``/``), e.g.
    ``?type=http&enabled=true&status=failure&search=web``.

    ``status`` takes either vocabulary, in the API and on the page alike:

    - ``0``, ``1``, ``2`` (the API's, after NanoMon's status numbers): the last run had that
      status (OK, Error, Failed), whether the monitor is enabled or not;
    - ``good``, ``error``, ``failure`` (the page's, the status labels lowercased): an enabled
      monitor whose last run had that status; ``unknown``: an enabled monitor that has not
      run yet; ``disabled``: a disabled monitor (``monitors.selectors.STATUS_FILTERS``).

    ``search`` is the page's ``q``. A bad value: the API answers 400 naming the parameter; the
    page ignores that filter and says so.
    """

    type = django_filters.ChoiceFilter(
        field_name="kind", choices=Monitor.Kind.choices, help_text="Only monitors of this type."
    )
    enabled = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_enabled",
        help_text="Only enabled (true) or disabled (false) monitors.",
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES,
        method="filter_status",
        help_text=f"Only monitors whose last run had this status: {STATUS_HELP} "
        "(enabled or not); or good, error, failure (enabled monitors whose last run had that "
        "status), unknown (enabled, not run yet), disabled.",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Case-insensitive text found in the name or the target (without its "
        "query, fragment or user info unless you may change monitors).",
    )

    tag = django_filters.CharFilter(
        method="filter_tag",
        max_length=400,
        help_text="Only monitors with every one of these tags (comma-separated: prod,db).",
        validators=[_tags_valid],
    )
    group = django_filters.CharFilter(
        field_name="group",
        max_length=100,
        help_text="Only monitors of this group (exactly as written).",
    )

    class Meta:
        model = Monitor
        fields = ["type", "enabled", "status", "search", "tag", "group"]

    def filter_tag(self, queryset: QuerySet[Monitor], name: str, value: str):
        listed = Cast("tags", TextField())
        for tag in tags_normalized(value):  # checked by the field (_tags_valid)
            queryset = queryset.alias(listed_tags=listed).filter(
                listed_tags__contains=tag_filter_text(tag)
            )
        return queryset

    def filter_search(self, queryset: QuerySet[Monitor], name: str, value: str):
        user = getattr(self.request, "user", None)
        return searched(queryset, value, reveal_secrets=may_see_secrets(user))

    def filter_enabled(self, queryset: QuerySet[Monitor], name: str, value: str):
        return queryset.filter(enabled=value == "true")

    def filter_status(self, queryset: QuerySet[Monitor], name: str, value: str):
        if value in STATUS_FILTERS:
            return monitors_of_status(queryset, value)
        return queryset.filter(state__last_status=int(value))
