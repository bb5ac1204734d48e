"""The API's one way to read a time it is sent: with an offset, or without one and a
`timezone`. A time without either is refused (400), never silently read as UTC, on every
endpoint that takes one (publish, reschedule, approve)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.timezone import is_naive
from rest_framework import serializers


class PublishTimeField(serializers.DateTimeField):
    """An ISO 8601 time: one with an offset is kept as that instant (in UTC); one without
    stays naive for the request's `timezone` to place."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value if is_naive(value) else super().enforce_timezone(value)


PUBLISH_AT_HELP = ("with an offset (2030-05-01T09:00:00+02:00), or without one and a "
                   "`timezone`; not in the past")


class PublishTimeSerializer(serializers.Serializer):
    """`publish_at` and `timezone` read as one instant, in UTC: the one place the API parses
    a publish time. Where a subclass makes `publish_at` optional, both may be left out,
    but a `timezone` alone is refused."""

    publish_at = PublishTimeField(help_text=PUBLISH_AT_HELP)
    timezone = serializers.CharField(
        max_length=64, required=False,
        help_text="IANA zone (Europe/Paris) of a `publish_at` without an offset")

    def validate_timezone(self, name: str) -> ZoneInfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise serializers.ValidationError(
                f"Unknown time zone '{name}'; use an IANA name such as Europe/Paris.") from None

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(data)
        zone = fields.pop("timezone", None)
        publish_at = fields.get("publish_at")
        if publish_at is None:
            if zone is not None:
                raise serializers.ValidationError({"timezone": [
                    "A timezone places a publish_at without an offset; send that publish_at."]})
            return fields
        if not is_naive(publish_at):
            if zone is not None:
                raise serializers.ValidationError({"timezone": [
                    "publish_at already has an offset; send the offset or a timezone, not both."]})
            return fields
        if zone is None:
            raise serializers.ValidationError({"publish_at": [
                "A time without an offset needs a 'timezone', e.g. Europe/Paris."]})
        return fields | {"publish_at": _placed(publish_at, zone)}


def _placed(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant a wall-clock time in `zone` names (the earlier one when clocks go back)."""
    try:
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        exists = instant.astimezone(zone).replace(tzinfo=None) == local
    except OverflowError:
        raise serializers.ValidationError({"publish_at": ["Datetime value out of range."]}) from None
    if not exists:  # a time the clocks skip when they go forward
        raise serializers.ValidationError({"publish_at": [
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it)."]})
    return instant
