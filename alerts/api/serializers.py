"""Maintenance windows in the API (docs/api.md, Maintenance windows)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.maintenance import window_save
from alerts.models import MaintenanceWindow
from monitors.api.serializers import TagsField
from monitors.models import Monitor
from monitors.tags import TAG_RULE


class _BlankIsNull:
    """An empty string is no value (null), as the page's empty inputs send it."""

    def validate_empty_values(self, data):
        return super().validate_empty_values(None if data == "" else data)


class _DateTime(_BlankIsNull, serializers.DateTimeField):
    pass


class _Time(_BlankIsNull, serializers.TimeField):
    pass


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    """A window; ``active`` and ``next_start`` are computed now, never stored."""

    starts_at = _DateTime(
        allow_null=True,
        required=False,
        help_text="Once: the start. Recurring: not before (optional).",
    )
    ends_at = _DateTime(
        allow_null=True, required=False, help_text="Once: the end. Recurring: not after (optional)."
    )
    start_time = _Time(
        allow_null=True,
        required=False,
        help_text="Weekly and monthly: the wall time each one starts (in time_zone).",
    )

    monitors = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Monitor.objects.all(), required=False
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False
    )
    days_of_month = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=31), required=False
    )
    tags = TagsField(help_text=f"It also covers the monitors with any of these tags ({TAG_RULE}).")
    active = serializers.SerializerMethodField()
    next_start = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id", "name", "reason", "schedule", "starts_at", "ends_at", "weekdays",
            "days_of_month", "start_time", "cron", "duration_minutes", "time_zone",
            "all_monitors", "monitors", "tags", "active", "next_start", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(serializers.BooleanField())
    def get_active(self, window: MaintenanceWindow) -> bool:
        return window.is_active(timezone.now())

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_start(self, window: MaintenanceWindow):
        start = window.next_start(timezone.now())
        return serializers.DateTimeField().to_representation(start) if start else None

    def _store(self, window: MaintenanceWindow, data: dict) -> MaintenanceWindow:
        monitors = data.pop("monitors", None)
        for name, value in data.items():
            setattr(window, name, value)
        try:
            window_save(window, monitors=[m.pk for m in monitors] if monitors is not None else None)
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                error.message_dict if hasattr(error, "error_dict") else error.messages
            ) from None
        return window

    def create(self, validated_data: dict) -> MaintenanceWindow:
        validated_data.setdefault("monitors", [])
        return self._store(MaintenanceWindow(), validated_data)

    def update(self, instance: MaintenanceWindow, validated_data: dict) -> MaintenanceWindow:
        return self._store(instance, validated_data)
