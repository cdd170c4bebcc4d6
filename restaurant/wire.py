"""How values look on the wire (CONTRACT.md, "General")."""

from datetime import UTC, datetime

from rest_framework import serializers


def iso_ms(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and `Z`: `2024-01-01T00:00:00.000Z`."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class TimestampField(serializers.DateTimeField):
    def to_representation(self, value):
        return iso_ms(value)


class MoneyField(serializers.DecimalField):
    """A decimal string with two places. Accepts a JSON number too: the reference's clients
    send `"unitPrice": 15.50`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 8)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class BlankAsNullCharField(serializers.CharField):
    """Optional text stored as "" and shown as null, as the reference's payloads do."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None

    def to_internal_value(self, data):
        return super().to_internal_value(data) if data is not None else ""


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string. DRF's own field also takes integers (`UUID(int=123)`)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
