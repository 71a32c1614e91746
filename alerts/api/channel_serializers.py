"""Channels and per-monitor alert policies in the API (docs/api.md, Alerting).

A channel's ``config`` holds its kind's settings (``alerts.channels``: the kind's declared
fields). Secrets are write-only: answers show them masked; a secret left out, blank or sent
back masked keeps the stored one (``alerts.configuration.channel_save``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from alerts import selectors
from alerts.configuration import alert_policy_set, channel_create, channel_update
from alerts.models import Channel, MonitorAlertPolicy
from monitors.api.serializers import TagsField
from monitors.tags import TAG_RULE


def refused(error: DjangoValidationError) -> serializers.ValidationError:
    """A Django ValidationError as DRF's: a transport's field errors under ``config.<name>``."""
    if not hasattr(error, "error_dict"):
        return serializers.ValidationError(error.messages)
    fields = {"name", "kind", "enabled", "is_default", "tags", "__all__"}
    return serializers.ValidationError(
        {
            (name if name in fields else f"config.{name}"): messages
            for name, messages in error.message_dict.items()
        }
    )


def _forbidden(value: object) -> bool:
    """NUL (PostgreSQL cannot store it) or a lone surrogate (not UTF-8), anywhere in ``value``."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_forbidden(k) or _forbidden(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_forbidden(item) for item in value)
    return False


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000]*$"}
)
class NameField(serializers.CharField):
    """A name: no NUL, no lone surrogate (the schema's pattern says so)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if _forbidden(value):
            raise serializers.ValidationError("must not contain NUL or unpaired surrogates")
        return value


class ChannelHealthSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["ok", "failing", "unused"],
        help_text="ok: the last attempt succeeded; failing: the last ones failed; unused.",
    )
    failures_in_row = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_failure_at = serializers.DateTimeField(allow_null=True)


class ChannelSerializer(serializers.ModelSerializer):
    """A channel; ``config`` comes back with its secrets masked."""

    name = NameField(max_length=100, trim_whitespace=False)
    kind = serializers.ChoiceField(choices=Channel.Kind.choices)
    config = serializers.DictField(
        required=False,
        help_text="The kind's settings (docs/alerting.md). Secrets are write-only: shown "
        "masked; left out, blank or sent back masked they keep the stored value.",
    )
    tags = TagsField(
        default=empty,  # left out of a PUT: kept, as the other settings
        help_text="Monitors with any of these tags also notify this channel, whatever their "
        f"own channel selection ({TAG_RULE}).",
    )
    builtin = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id", "name", "kind", "enabled", "is_default", "tags", "config", "builtin",
            "summary", "health", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "is_default": {"help_text": "Notified by every monitor without a channel selection "
                           "of its own: the defaults for new monitors."},
        }  # fmt: skip

    def validate_config(self, config: dict) -> dict:
        if _forbidden(config):
            raise serializers.ValidationError("must not contain NUL or unpaired surrogates")
        return config

    def to_representation(self, channel: Channel) -> dict:
        data = super().to_representation(channel)
        data["config"] = selectors.channel_public_config(channel)
        return data

    @extend_schema_field(serializers.BooleanField())
    def get_builtin(self, channel: Channel) -> bool:
        """The channel of the ALERT_SMTP_* variables (its kind and config are not editable)."""
        return bool(channel.builtin)

    @extend_schema_field(serializers.CharField())
    def get_summary(self, channel: Channel) -> str:
        return selectors.channel_summary(channel)

    @extend_schema_field(ChannelHealthSerializer)
    def get_health(self, channel: Channel) -> dict:
        return ChannelHealthSerializer(selectors.channel_health(channel)).data

    def create(self, validated_data: dict) -> Channel:
        try:
            return channel_create(
                name=validated_data["name"],
                kind=validated_data["kind"],
                config=validated_data.get("config", {}),
                enabled=validated_data.get("enabled", True),
                is_default=validated_data.get("is_default", True),
                tags=validated_data.get("tags", []),
            )
        except DjangoValidationError as error:
            raise refused(error) from None

    def update(self, channel: Channel, validated_data: dict) -> Channel:
        try:
            return channel_update(
                channel,
                name=validated_data.get("name"),
                kind=validated_data.get("kind"),
                enabled=validated_data.get("enabled"),
                is_default=validated_data.get("is_default"),
                config=validated_data.get("config"),
                tags=validated_data.get("tags"),
            )
        except DjangoValidationError as error:
            raise refused(error) from None


class ChannelTestSerializer(serializers.Serializer):
    """What a test notification did."""

    succeeded = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True, help_text="Why it failed (no secret).")
    notification = serializers.IntegerField(help_text="The test notification's id.")


class ChannelPreviewRequestSerializer(serializers.Serializer):
    """Which sample event to render, optionally with templates not yet saved."""

    event = serializers.ChoiceField(choices=["down", "reminder", "up", "test"], default="down")
    subject_template = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=500,
        help_text="Render with this subject template instead of the stored one.",
    )  # fmt: skip
    body_template = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=5000,
        help_text="Render with this message template instead of the stored one.",
    )  # fmt: skip

    def validate(self, data: dict) -> dict:
        if _forbidden(data):
            raise serializers.ValidationError("must not contain NUL or unpaired surrogates")
        return data


class ChannelPreviewSerializer(serializers.Serializer):
    """A sample event rendered as the channel would send it (nothing is sent)."""

    event = serializers.CharField()
    subject = serializers.CharField(help_text="The mail's subject, Apprise's title.")
    body = serializers.CharField(
        help_text="The mail's text, Apprise's body, the webhook's {MESSAGE}."
    )


class PolicyDefaultsSerializer(serializers.Serializer):
    fail_threshold = serializers.IntegerField(help_text="ALERT_FAIL_COUNT")
    recover_threshold = serializers.IntegerField(help_text="ALERT_RECOVER_COUNT")
    reminder_minutes = serializers.IntegerField(help_text="ALERT_REMINDER_MINUTES")


class AlertPolicySerializer(serializers.ModelSerializer):
    """How a monitor alerts; null thresholds and reminders take the environment's defaults."""

    monitor = serializers.IntegerField(source="monitor_id", read_only=True)
    fail_threshold = serializers.IntegerField(
        min_value=1, max_value=32767, allow_null=True, required=False,
        help_text="Non-OK runs in a row that make it down; null: ALERT_FAIL_COUNT.",
    )  # fmt: skip
    recover_threshold = serializers.IntegerField(
        min_value=1, max_value=32767, allow_null=True, required=False,
        help_text="OK runs in a row that make it up again; null: ALERT_RECOVER_COUNT.",
    )  # fmt: skip
    reminder_minutes = serializers.IntegerField(
        min_value=0, max_value=2147483647, allow_null=True, required=False,
        help_text="Repeat the alert every N minutes while down (0: never); null: "
        "ALERT_REMINDER_MINUTES.",
    )  # fmt: skip
    channels = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Channel.objects.all(), required=False,
        help_text="Channel ids notified when use_default_channels is false.",
    )  # fmt: skip
    escalate_after_minutes = serializers.IntegerField(
        min_value=1, max_value=2147483647, allow_null=True, required=False,
        help_text="Down and unacknowledged this long: also alert escalation_channels (once "
        "per outage); null: never.",
    )  # fmt: skip
    escalation_channels = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Channel.objects.all(), required=False,
        help_text="Channel ids alerted on escalation.",
    )  # fmt: skip
    tag_channels = serializers.SerializerMethodField()
    defaults = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null while the monitor has all defaults."
    )

    class Meta:
        model = MonitorAlertPolicy
        fields = [
            "monitor", "fail_threshold", "recover_threshold", "reminder_minutes", "muted",
            "use_default_channels", "channels", "tag_channels", "escalate_after_minutes",
            "escalation_channels", "defaults", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(
        serializers.ListField(
            child=serializers.IntegerField(),
            help_text="Read-only: the enabled channels that also get this monitor's alerts "
            "because they have one of its tags, whatever use_default_channels and channels say "
            "(a muted policy sends nothing).",
        )
    )
    def get_tag_channels(self, policy: MonitorAlertPolicy) -> list[int]:
        return [channel.pk for channel in selectors.monitor_tag_channels(policy.monitor.tags)]

    @extend_schema_field(PolicyDefaultsSerializer)
    def get_defaults(self, policy: MonitorAlertPolicy) -> dict:
        return {
            "fail_threshold": settings.ALERT_FAIL_COUNT,
            "recover_threshold": settings.ALERT_RECOVER_COUNT,
            "reminder_minutes": settings.ALERT_REMINDER_MINUTES,
        }

    def update(self, policy: MonitorAlertPolicy, validated_data: dict) -> MonitorAlertPolicy:
        try:
            return alert_policy_set(
                policy.monitor,
                fail_threshold=validated_data.get("fail_threshold"),
                recover_threshold=validated_data.get("recover_threshold"),
                reminder_minutes=validated_data.get("reminder_minutes"),
                muted=validated_data.get("muted", False),
                use_default_channels=validated_data.get("use_default_channels", True),
                channels=validated_data.get("channels", []),
                escalate_after_minutes=validated_data.get("escalate_after_minutes"),
                escalation_channels=validated_data.get("escalation_channels", []),
            )
        except DjangoValidationError as error:
            raise refused(error) from None
