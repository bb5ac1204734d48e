"""The API's one way to read a time it is sent: with an offset, or without one and a
`timezone`. A time without either is refused (400), never silently read as UTC, on every
endpoint that takes one (briefs' due_at; publish, reschedule and approve's publish_at)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.timezone import is_naive
from rest_framework import serializers


class LocalTimeField(serializers.DateTimeField):
    """An ISO 8601 time: one with an offset is kept as that instant (in UTC); one without
    stays naive for the request's `timezone` to place."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value if is_naive(value) else super().enforce_timezone(value)


PUBLISH_AT_HELP = ("with an offset (2030-05-01T09:00:00+02:00), or without one and a "
                   "`timezone`; not in the past")


class LocalTimesSerializer(serializers.Serializer[Any]):
    """The `time_fields` and `timezone` read as instants, in UTC: the one place the API
    parses a time it is sent. Where the times are optional, all may be left out, but a
    `timezone` alone is refused."""

    time_fields: ClassVar[tuple[str, ...]] = ()
    timezone = serializers.CharField(
        max_length=64, required=False,
        help_text="IANA zone (Europe/Paris) of the times sent without an offset")

    def validate_timezone(self, name: str) -> ZoneInfo:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise serializers.ValidationError(
                f"Unknown time zone '{name}'; use an IANA name such as Europe/Paris.") from None

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(super().validate(data))
        zone = fields.pop("timezone", None)
        sent = [name for name in self.time_fields if fields.get(name) is not None]
        naive = [name for name in sent if is_naive(fields[name])]
        if not sent and zone is not None:
            names = " or ".join(self.time_fields)
            raise serializers.ValidationError({"timezone": [
                f"A timezone places a {names} without an offset; send that {names}."]})
        if sent and not naive and zone is not None:
            raise serializers.ValidationError({"timezone": [
                f"{sent[0]} already has an offset; send the offset or a timezone, not both."]})
        if naive and zone is None:
            raise serializers.ValidationError({naive[0]: [
                "A time without an offset needs a 'timezone', e.g. Europe/Paris."]})
        return fields | {name: _placed(fields[name], zone, name) for name in naive}


class PublishTimeSerializer(LocalTimesSerializer):
    """`publish_at` (with an offset, or without one and a `timezone`)."""

    time_fields = ("publish_at",)
    publish_at = LocalTimeField(help_text=PUBLISH_AT_HELP)


def _placed(local: datetime, zone: ZoneInfo, field: str) -> datetime:
    """The instant a wall-clock time in `zone` names (the earlier one when clocks go back)."""
    try:
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        exists = instant.astimezone(zone).replace(tzinfo=None) == local
    except OverflowError:
        raise serializers.ValidationError({field: ["Datetime value out of range."]}) from None
    if not exists:  # a time the clocks skip when they go forward
        raise serializers.ValidationError({field: [
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it)."]})
    return instant
