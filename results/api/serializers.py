"""Result JSON in NanoMon's shape."""

from __future__ import annotations

from rest_framework import serializers

from lib.status import STATUS_HELP, Status
from monitors.api.serializers import OutputsField
from monitors.secrets import masked_target
from results.models import Result


class ResultSerializer(serializers.ModelSerializer):
    """One run: when it started, its status, value and message, and a snapshot of the
    monitor's name and target at the time it ran (the target's credentials masked unless the
    context says ``reveal_secrets``)."""

    date = serializers.DateTimeField(help_text="When the run started (RFC 3339, UTC).")
    status = serializers.ChoiceField(choices=Status.choices, help_text=f"{STATUS_HELP}.")
    monitor_id = serializers.IntegerField()
    outputs = OutputsField(allow_null=True)

    class Meta:
        model = Result
        fields = [
            "date",
            "status",
            "value",
            "message",
            "monitor_id",
            "monitor_name",
            "monitor_target",
            "outputs",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Result) -> dict[str, object]:
        data = super().to_representation(instance)
        if not self.context.get("reveal_secrets", False):
            data["monitor_target"] = masked_target(data["monitor_target"])
        return data
