"""Shapes on the wire. Field names are snake_case here; the renderer and parser camelCase them.

Output serializers render models; input serializers only validate shape. Rules live in
`orders.services`.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from restaurant.wire import BlankAsNullCharField, MoneyField, StrictUUIDField, TimestampField

from ..models import ItemStatus, MenuItem, Order, OrderItem, Table, TableSession, User

# --- Output -----------------------------------------------------------------------------------


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


class MenuItemSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True)
    price = MoneyField(read_only=True)

    class Meta:
        model = MenuItem
        fields = ["id", "restaurant_id", "name", "price", "station", "active"]


class OrderItemSerializer(serializers.ModelSerializer):
    """docs/contract.md's item JSON, exactly; also the `items` of the `order.new` event."""

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


class OrderSerializer(serializers.ModelSerializer):
    restaurant_id = serializers.UUIDField(read_only=True)
    table_session_id = serializers.UUIDField(read_only=True)
    notes = BlankAsNullCharField(read_only=True)
    total = MoneyField(read_only=True, max_digits=12)
    items = OrderItemSerializer(many=True, read_only=True)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id", "restaurant_id", "table_session_id", "status", "notes", "total", "items",
            "created_at", "updated_at",
        ]


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as `restaurant.problems` renders every error (for the schema)."""

    type = serializers.CharField(help_text="A URI reference, e.g. `/problems/illegal-transition`.")
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


class OrderItemCreateSerializer(serializers.Serializer):
    menu_item_id = StrictUUIDField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False)
    qty = serializers.IntegerField(min_value=1, max_value=999)
    unit_price = MoneyField(min_value=0, required=False)
    notes = BlankAsNullCharField(max_length=500)

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
    qty = serializers.IntegerField(min_value=1, max_value=999, required=False)
    unit_price = MoneyField(min_value=0, required=False)
    notes = BlankAsNullCharField(max_length=500)


class ItemStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    expected_status = serializers.ChoiceField(
        choices=ItemStatus.choices, required=False,
        help_text="The status the client saw. If the item has moved since, the answer is 409 "
        "and nothing changes (two screens tapping one item).",
    )


class OrderCancelSerializer(serializers.Serializer):
    reason = BlankAsNullCharField(max_length=500)




# --- Kitchen display ----------------------------------------------------------------------------


class KitchenItemSerializer(OrderItemSerializer):
    class Meta(OrderItemSerializer.Meta):
        fields = [*OrderItemSerializer.Meta.fields, "station"]


class KitchenTicketSerializer(serializers.ModelSerializer):
    order_id = serializers.UUIDField(source="id", read_only=True)
    table_name = serializers.CharField(source="table_session.table.name", read_only=True)
    notes = BlankAsNullCharField(read_only=True)
    confirmed_at = TimestampField(read_only=True, allow_null=True)
    created_at = TimestampField(read_only=True)
    updated_at = TimestampField(read_only=True)
    items = KitchenItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_id", "table_name", "status", "notes", "confirmed_at", "created_at",
            "updated_at", "items",
        ]


class KitchenBoardSerializer(serializers.Serializer):
    server_time = TimestampField(help_text="The server's clock: ticket ages are measured by it.")
    amber_after_minutes = serializers.IntegerField()
    red_after_minutes = serializers.IntegerField()
    stations = serializers.ListField(child=serializers.CharField())
    tickets = KitchenTicketSerializer(many=True)
