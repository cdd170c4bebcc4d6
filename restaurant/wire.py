"""How values look on the wire (docs/contract.md, "General")."""

from datetime import UTC, datetime

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
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


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """Money in the schema: a decimal string with two places on the way out; on the way in a
    string with up to two (a JSON number is accepted too, as the reference's clients send).

    drf-spectacular's own decimal pattern admits an empty string, which the field refuses.
    """

    target_class = MoneyField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        whole = field.max_digits - field.decimal_places
        sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
        if direction == "response":
            pattern = rf"^{sign}\d{{1,{whole}}}\.\d{{{field.decimal_places}}}$"
        else:
            pattern = rf"^{sign}\d{{1,{whole}}}(\.\d{{1,{field.decimal_places}}})?$"
        return {"type": "string", "format": "decimal", "pattern": pattern, "example": "15.50"}


class CharFieldSchema(OpenApiSerializerFieldExtension):
    """Text input in the schema as DRF's CharField takes it: no NUL characters (the database
    cannot store them) and, unless blank is allowed, something besides whitespace (which it
    trims). Said in a pattern, so that clients and the fuzzer know."""

    target_class = serializers.CharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if direction == "request" and not ({"pattern", "format", "enum"} & schema.keys()):
            if field.allow_blank or not field.trim_whitespace:
                schema["pattern"] = "^[^\\x00]*$"
            else:
                schema["pattern"] = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
        return schema
