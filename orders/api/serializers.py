"""Shapes on the wire. Field names are snake_case here; the renderer and parser camelCase them.

Output serializers render models; input serializers only validate shape. Rules live in
`orders.services`.
"""

import functools
from datetime import UTC

from djangorestframework_camel_case.util import camelize
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from restaurant.problems import PROBLEM_TYPES
from restaurant.wire import BlankAsNullCharField, MoneyField, StrictUUIDField, TimestampField

from ..models import (
    MAX_COURSE,
    MAX_MODIFIERS_PER_ITEM,
    MAX_PRICE_DELTA,
    MAX_QTY,
    MAX_REMAINING,
    Allergen,
    ItemStatus,
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Order,
    OrderItem,
    Priority,
    Table,
    TableSession,
    User,
)

# --- Output -----------------------------------------------------------------------------------


def represent(serializer_class, instance, *, many: bool = False):
    """What `serializer_class(instance, many=many).data` renders, without constructing the
    serializer: DRF deep-copies its declared fields, and ModelSerializer rebuilds those of the
    model, for every serializer (and nested serializer) constructed, which was a fifth of a
    REST write's CPU. The output serializers here keep no per-response state (no context, no
    request), so one instance per class renders every response, through DRF's own
    `to_representation`."""
    return _shared_serializer(serializer_class, many).to_representation(instance)


@functools.cache
def _shared_serializer(serializer_class, many: bool):
    return serializer_class(many=many)


class UserSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "restaurant_id"]


class TableSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True)
    open_session_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Table
        fields = ["id", "restaurant_id", "name", "seats", "active", "open_session_id"]


class TableSessionSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(source="table.restaurant_id", read_only=True)
    table_id = serializers.UUIDField(read_only=True)
    table_name = serializers.CharField(source="table.name", read_only=True)
    opened_at = TimestampField(source="created_at", read_only=True)
    closed_at = TimestampField(read_only=True, allow_null=True)
    updated_at = TimestampField(read_only=True)

    class Meta:
        model = TableSession
        fields = [
            "id", "restaurant_id", "table_id", "table_name", "status", "guests",
            "opened_at", "closed_at", "updated_at",
        ]


def allergen_list(**kwargs):
    kwargs.setdefault("help_text", "Allergen codes (the EU's 14).")
    kwargs["help_text"] += " Codes: " + " ".join(Allergen.values) + "."
    return serializers.ListField(
        child=serializers.ChoiceField(choices=Allergen.choices), max_length=len(Allergen.values),
        **kwargs,
    )


class ModifierOptionSerializer(serializers.ModelSerializer):
    price_delta = MoneyField(read_only=True, max_digits=6, min_value=-MAX_PRICE_DELTA)
    allergens = allergen_list(read_only=True)

    class Meta:
        model = ModifierOption
        fields = ["id", "name", "price_delta", "allergens", "available"]


class ModifierGroupSerializer(serializers.ModelSerializer):
    options = ModifierOptionSerializer(many=True, read_only=True)

    class Meta:
        model = ModifierGroup
        fields = ["id", "name", "min_select", "max_select", "options"]


class MenuItemSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True)
    price = MoneyField(read_only=True)
    allergens = allergen_list(read_only=True)
    available_again_at = TimestampField(read_only=True, allow_null=True)
    modifier_groups = ModifierGroupSerializer(many=True, read_only=True)

    class Meta:
        model = MenuItem
        fields = [
            "id", "restaurant_id", "name", "price", "station", "active", "allergens", "course",
            "prep_minutes", "available", "remaining", "available_again_at", "modifier_groups",
        ]


class OrderItemSerializer(serializers.ModelSerializer):
    """docs/contract.md's item JSON (the reference's), exactly its nine keys: the `items` of the `order.new`
    event, which strict clients decode. REST renders `OrderItemDetailSerializer`."""

    order_id = serializers.UUIDField(read_only=True)
    unit_price = MoneyField(read_only=True)
    notes = BlankAsNullCharField(read_only=True)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)

    class Meta:
        model = OrderItem
        fields = [
            "id", "order_id", "name", "qty", "unit_price", "status", "notes",
            "created_at", "updated_at",
        ]


class ItemModifierSerializer(serializers.Serializer):
    """(For the schema.) A modifier as copied onto the item when it was added."""

    name = serializers.CharField()
    price_delta = serializers.CharField(help_text="Decimal string with two places.")
    option_id = serializers.UUIDField(allow_null=True, help_text="Null for a free-form modifier.")


@extend_schema_field(ItemModifierSerializer(many=True))
class CopiedModifiersField(serializers.JSONField):
    """The item's `modifiers`, stored already in their wire shape."""


class OrderItemDetailSerializer(OrderItemSerializer):
    """docs/contract.md's item JSON with the kitchen-operation keys: what REST renders."""

    menu_item_id = serializers.UUIDField(read_only=True, allow_null=True)
    modifiers = CopiedModifiersField(read_only=True)
    fired_at = TimestampField(read_only=True, allow_null=True)
    allergens = allergen_list(read_only=True)
    allergies = allergen_list(read_only=True)
    allergen_conflicts = allergen_list(read_only=True)
    allergy_acknowledged_at = TimestampField(read_only=True, allow_null=True)
    allergy_acknowledged_by = serializers.UUIDField(
        source="allergy_acknowledged_by_id", read_only=True, allow_null=True
    )
    void_reason = BlankAsNullCharField(read_only=True)

    class Meta(OrderItemSerializer.Meta):
        fields = [
            *OrderItemSerializer.Meta.fields, "menu_item_id", "station", "modifiers", "course",
            "seat", "fired_at", "allergens", "allergies", "allergen_conflicts",
            "allergy_acknowledged_at", "allergy_acknowledged_by", "void_reason",
        ]


class SeenBySerializer(serializers.Serializer):
    screen_id = serializers.UUIDField()
    name = serializers.CharField()
    station = serializers.CharField()
    seen_at = TimestampField()


def seen_by(order) -> list[dict]:
    """Each screen once, at the first ticket event of the order it acknowledged. A DRAFT
    never reached a screen (and its render reads nothing for it)."""
    if order.confirmed_at is None:
        return []
    first = {}
    for delivery in order.screen_deliveries.all():
        first.setdefault(delivery.screen_id, delivery)
    return [
        {"screen_id": d.screen_id, "name": d.screen.name, "station": d.screen.station, "seen_at": d.seen_at}
        for d in first.values()
    ]


class OrderSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True)
    table_session_id = serializers.UUIDField(read_only=True)
    notes = BlankAsNullCharField(read_only=True)
    total = MoneyField(read_only=True, max_digits=12)
    items = OrderItemDetailSerializer(many=True, read_only=True)
    number = serializers.IntegerField(
        read_only=True, allow_null=True,
        help_text="Ticket number, given on confirm; restarts daily in the restaurant's time zone.",
    )
    seen_by = serializers.SerializerMethodField(
        help_text="The kitchen screens showing this order's station(s) that acknowledged its "
        "ticket (`order.new` or `order.items.added`): proof of delivery."
    )
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id", "restaurant_id", "table_session_id", "status", "notes", "total", "items",
            "priority", "number", "seen_by", "created_at", "updated_at",
        ]

    @extend_schema_field(SeenBySerializer(many=True))
    def get_seen_by(self, order):
        return represent(SeenBySerializer, seen_by(order), many=True)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as `restaurant.problems` renders every error (for the schema)."""

    type = serializers.CharField(
        help_text="A URI reference, `/problems/<type>`, described at that path. Types: "
        + ", ".join(f"`{slug}`" for slug in PROBLEM_TYPES) + "."
    )
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Validation errors: each field (camelCase) to its messages.",
    )


# --- Input ------------------------------------------------------------------------------------


class LoginSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, trim_whitespace=True)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    token_type = serializers.CharField(default="Bearer")
    user = UserSerializer()


class TableSessionOpenSerializer(serializers.Serializer):
    guests = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)


class OrderCreateSerializer(serializers.Serializer):
    table_session_id = StrictUUIDField()
    notes = BlankAsNullCharField(max_length=500)


class ModifierInputSerializer(serializers.Serializer):
    """A menu option (`optionId`), or a free-form modifier (`name`, `priceDelta`)."""

    option_id = StrictUUIDField(required=False)
    name = serializers.CharField(max_length=100, required=False)
    price_delta = MoneyField(
        required=False, max_digits=6, min_value=-MAX_PRICE_DELTA, max_value=MAX_PRICE_DELTA
    )

    def validate(self, attrs):
        if ("option_id" in attrs) == ("name" in attrs):
            raise serializers.ValidationError("Give either optionId, or name (and priceDelta).")
        if "option_id" in attrs and "price_delta" in attrs:
            raise serializers.ValidationError({"price_delta": ["An option is priced by the menu."]})
        return attrs


def _messages(detail, prefix="") -> list[str]:
    """Nested errors (one modifier's field) as plain messages naming the camelCase field:
    problem details map each top-level field to a list of strings."""
    if isinstance(detail, dict):
        return [
            m for key, value in detail.items()
            for m in _messages(value, prefix if key == "non_field_errors" else (
                f"{prefix}#{int(key) + 1} " if str(key).isdigit()
                else f"{prefix}{camelize({key: 0}).popitem()[0]}: "
            ))
        ]
    if isinstance(detail, list):
        if all(isinstance(d, str) for d in detail):
            return [f"{prefix}{d}" for d in detail]
        return [m for i, d in enumerate(detail) for m in _messages(d, f"{prefix}#{i + 1} ")]
    return [f"{prefix}{detail}"]


class ModifierInputSchema(OpenApiSerializerExtension):
    """The schema says what `ModifierInputSerializer.validate` enforces: an option by
    `optionId` alone, or a free-form `name` with an optional `priceDelta`."""

    target_class = ModifierInputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["oneOf"] = [
            {"title": "A menu option", "required": ["optionId"],
             "not": {"anyOf": [{"required": ["name"]}, {"required": ["priceDelta"]}]}},
            {"title": "Free-form", "required": ["name"], "not": {"required": ["optionId"]}},
        ]
        return schema


class OrderItemCreateSerializer(serializers.Serializer):
    menu_item_id = StrictUUIDField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False)
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    unit_price = MoneyField(min_value=0, required=False)
    notes = BlankAsNullCharField(max_length=500)
    modifiers = ModifierInputSerializer(many=True, required=False, max_length=MAX_MODIFIERS_PER_ITEM)
    course = serializers.IntegerField(
        min_value=1, max_value=MAX_COURSE, required=False, allow_null=True,
        help_text="Default: the menu item's course, else 1.",
    )
    seat = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    allergies = allergen_list(required=False, help_text="Allergens the guest declared for this dish.")

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict):
                for field, detail in exc.detail.items():
                    exc.detail[field] = _messages(detail)
            raise

    def validate(self, attrs):
        from_menu = attrs.get("menu_item_id") is not None
        free_form = {"name", "unit_price"} & attrs.keys()
        if from_menu and free_form:
            raise serializers.ValidationError(
                {f: ["Not allowed with menuItemId: it is copied from the menu."] for f in free_form}
            )
        if not from_menu:
            missing = {"name", "unit_price"} - attrs.keys()
            if missing:
                raise serializers.ValidationError(
                    {f: ["Required unless menuItemId is given."] for f in sorted(missing)}
                )
        return attrs


class OrderItemCreateSchema(OpenApiSerializerExtension):
    """The schema of OrderItemCreateSerializer says what its `validate` enforces: either
    `menuItemId` (and then neither `name` nor `unitPrice`), or `name` and `unitPrice`."""

    target_class = OrderItemCreateSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        menu_item_given = {
            "required": ["menuItemId"],
            "properties": {"menuItemId": {"type": "string"}},
        }
        schema["oneOf"] = [
            {
                "title": "From the menu",
                **menu_item_given,
                "not": {"anyOf": [{"required": ["name"]}, {"required": ["unitPrice"]}]},
            },
            {"title": "Free-form", "required": ["name", "unitPrice"], "not": menu_item_given},
        ]
        return schema


class OrderItemUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY, required=False)
    unit_price = MoneyField(min_value=0, required=False)
    notes = BlankAsNullCharField(max_length=500)


class ItemStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    expected_status = serializers.ChoiceField(
        choices=ItemStatus.choices, required=False,
        help_text="The status the client saw. If the item has moved since, the answer is 409 "
        "and nothing changes (two screens tapping one item).",
    )
    reason = BlankAsNullCharField(
        max_length=500, help_text="With CANCELLED (a void after sending): kept as voidReason."
    )


class FireCourseSerializer(serializers.Serializer):
    course = serializers.IntegerField(min_value=1, max_value=MAX_COURSE)


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices)


class InstantInputField(serializers.DateTimeField):
    """An ISO-8601 instant, kept in UTC (PostgreSQL refuses offsets ISO-8601 allows)."""

    def to_internal_value(self, value):
        instant = super().to_internal_value(value)
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            self.fail("invalid", format="ISO-8601")


class AvailabilitySerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="false: the dish is 86'd.")
    remaining = serializers.IntegerField(
        min_value=0, max_value=MAX_REMAINING, required=False, allow_null=True,
        help_text="Portions left, counted down by each added qty; null stops counting.",
    )
    available_again_at = InstantInputField(
        required=False, allow_null=True,
        help_text="With available false: when the dish comes back by itself.",
    )


class OrderCancelSerializer(serializers.Serializer):
    reason = BlankAsNullCharField(max_length=500)




# --- Kitchen display ----------------------------------------------------------------------------


class KitchenTicketSerializer(serializers.ModelSerializer):
    order_id = serializers.UUIDField(source="id", read_only=True)
    table_name = serializers.CharField(source="table_session.table.name", read_only=True)
    number = serializers.IntegerField(read_only=True, allow_null=True)
    waiter_name = serializers.CharField(
        source="created_by.name", read_only=True, allow_null=True, default=None,
        help_text="Who took the order.",
    )
    notes = BlankAsNullCharField(read_only=True)
    confirmed_at = TimestampField(read_only=True, allow_null=True)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)
    items = OrderItemDetailSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_id", "table_name", "status", "notes", "priority", "number", "waiter_name",
            "confirmed_at", "created_at", "updated_at", "items",
        ]


class KitchenBoardSerializer(serializers.Serializer):
    server_time = TimestampField(help_text="The server's clock: ticket ages are measured by it.")
    amber_after_minutes = serializers.IntegerField()
    red_after_minutes = serializers.IntegerField()
    stations = serializers.ListField(child=serializers.CharField())
    stations_down = serializers.ListField(
        child=serializers.CharField(),
        help_text="Stations with open tickets and every screen offline: nobody sees them.",
    )
    tickets = KitchenTicketSerializer(many=True)
