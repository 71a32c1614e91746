"""A monitor's alert policy on its Alerting page (``alerts.configuration.alert_policy_set``)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from alerts.models import Channel


class AlertPolicyForm(forms.Form):
    fail_threshold = forms.IntegerField(
        min_value=1, max_value=32767, required=False, label="Failures before down"
    )
    recover_threshold = forms.IntegerField(
        min_value=1, max_value=32767, required=False, label="OK runs before up again"
    )
    reminder_minutes = forms.IntegerField(
        min_value=0, max_value=2147483647, required=False, label="Reminder every (minutes)"
    )
    muted = forms.BooleanField(
        required=False, help_text="Keep tracking up and down, but send no notification at all."
    )
    use_default_channels = forms.BooleanField(
        required=False,
        label="Notify the default channels",
        help_text="Ticked: the default channels (the chosen ones are ignored). "
        "Unticked: only the channels chosen below.",
    )
    channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    escalate_after_minutes = forms.IntegerField(
        min_value=1,
        max_value=2147483647,
        required=False,
        label="Escalate after (minutes)",
        help_text="Down and not acknowledged this long: also alert the escalation channels, "
        "once per outage. Empty: never.",
    )
    escalation_channels = forms.ModelMultipleChoiceField(
        queryset=Channel.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        defaults = {
            "fail_threshold": ("ALERT_FAIL_COUNT", settings.ALERT_FAIL_COUNT),
            "recover_threshold": ("ALERT_RECOVER_COUNT", settings.ALERT_RECOVER_COUNT),
            "reminder_minutes": ("ALERT_REMINDER_MINUTES", settings.ALERT_REMINDER_MINUTES),
        }
        for name, (variable, value) in defaults.items():
            self.fields[name].help_text = f"Empty: the default, {value} ({variable})."
            if name == "reminder_minutes":
                self.fields[name].help_text += " 0: never."
