"""The maintenance window form (the page at /maintenance); the model validates the schedule
(``MaintenanceWindow.clean``) and ``alerts.maintenance.window_save`` stores it."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from alerts.models import MaintenanceWindow
from lib.cron import parse_zone
from monitors.models import Monitor
from monitors.tags import tags_normalized

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


class DaysField(forms.CharField):
    """Days of the month as ``1, 15`` (a list of numbers)."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(day) for day in value)
        return value

    def to_python(self, value) -> list[int]:
        text = super().to_python(value)
        try:
            return [int(part) for part in text.replace(",", " ").split()]
        except ValueError:
            raise forms.ValidationError("numbers from 1 to 31, separated by commas") from None


class MaintenanceWindowForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Weekly: the days it starts on.",
    )
    days_of_month = DaysField(
        required=False, help_text="Monthly: the days it starts on, e.g. 1, 15."
    )
    monitors = forms.ModelMultipleChoiceField(
        queryset=Monitor.objects.order_by("name", "id"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="The monitors it covers (unless it covers every monitor).",
    )

    tags = forms.CharField(
        required=False,
        help_text="And the monitors with any of these tags (separated by commas or spaces).",
    )

    class Meta:
        model = MaintenanceWindow
        fields = [
            "name", "reason", "schedule", "starts_at", "ends_at", "weekdays", "days_of_month",
            "start_time", "cron", "duration_minutes", "time_zone", "all_monitors", "monitors",
            "tags",
        ]  # fmt: skip
        widgets = {
            "reason": forms.Textarea(attrs={"rows": 2}),
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "start_time": forms.TimeInput(attrs={"type": "time"}),
        }
        help_texts = {
            "starts_at": "Once: the start. Recurring: not before (optional). In the time "
            "zone below.",
            "ends_at": "Once: the end. Recurring: not after (optional).",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        window = self.instance
        self.initial["tags"] = ", ".join(window.tags or [])
        if window.pk:  # shown in the window's own time zone, as they are entered
            zone = window.zone()
            for name in ("starts_at", "ends_at"):
                moment = getattr(window, name)
                if moment is not None:
                    self.initial[name] = moment.astimezone(zone).replace(tzinfo=None)

    def clean_tags(self) -> list[str]:
        try:
            return tags_normalized(self.cleaned_data.get("tags") or "")
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict:
        data = super().clean()
        try:
            zone = parse_zone(data.get("time_zone") or "")
        except ValueError:
            return data  # the model names the time zone
        for name in ("starts_at", "ends_at"):
            moment = data.get(name)
            if moment is not None:  # entered as wall time in the window's time zone
                data[name] = timezone.make_naive(moment).replace(tzinfo=zone)
                setattr(self.instance, name, data[name])
        return data
