"""A monitor's dependencies and canary flag on its Alerting page
(``alerts.dependencies.dependencies_set``)."""

from __future__ import annotations

from django import forms

from monitors.models import Monitor


class DependenciesForm(forms.Form):
    parents = forms.ModelMultipleChoiceField(
        queryset=Monitor.objects.none(),
        required=False,
        label="Depends on",
        help_text="While one of these is down, this monitor's down alert is held; it is sent "
        "only if this monitor is still down when they recover.",
    )
    canary = forms.BooleanField(
        required=False,
        label="Canary (a check of the prober's own connectivity)",
        help_text="While every canary is down, the down alerts of all other monitors are held.",
    )

    def __init__(self, monitor: Monitor, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parents"].queryset = Monitor.objects.exclude(pk=monitor.pk).order_by(
            "name", "pk"
        )
        self.fields["parents"].widget.attrs["size"] = 8
