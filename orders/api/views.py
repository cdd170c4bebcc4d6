"""REST views: validate shape, call one selector or service, render. They catch nothing."""

import logging

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from restaurant.problems import PROBLEM_CONTENT_TYPE
from restaurant.tenancy import RestaurantScopedMixin

from .. import auth_services, history, selectors, services
from ..screens import stations_down
from . import representations as r
from . import serializers as s
from .filters import MenuItemFilter, OrderFilter, TableFilter, TableSessionFilter
from .idempotency import idempotent

logger = logging.getLogger(__name__)

PROBLEM = OpenApiResponse(
    response=s.ProblemSerializer, description="Problem details (RFC 9457), application/problem+json."
)


def problems(*codes: int) -> dict:
    """Responses of these statuses: problem details, as `application/problem+json`."""
    return {(code, PROBLEM_CONTENT_TYPE): PROBLEM for code in codes}


# Every operation may answer 406 (an Accept header that excludes JSON) and 503 (the database
# is down); every authenticated one 401 (no or bad credentials) and 403 (role, or an account
# without a restaurant); every one with a body 413 (over MAX_REQUEST_BODY_BYTES) and 415
# (not JSON).
_AUTHED = (401, 403, 406, 503)
_READ = problems(404, *_AUTHED)
_LIST = problems(400, 404, *_AUTHED)  # 400: a bad filter or pageSize; 404: no such page
_WRITE = problems(400, 404, 409, 413, 415, 422, *_AUTHED)  # 422: an Idempotency-Key reused
_ANONYMOUS = (400, 401, 406, 413, 415, 503)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER, required=False,
    description="Retrying with the same key and body returns the first answer, changing nothing. "
    "1 to 255 visible ASCII characters.",
)


def validated(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Auth -------------------------------------------------------------------------------------


class LoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    # Counted per account and address in `auth_services.login` (restaurant.throttling).
    throttle_classes = []

    @extend_schema(
        request=s.LoginSerializer,
        responses={200: s.TokenPairSerializer, **problems(*_ANONYMOUS, 429)},
        auth=[],
    )
    def post(self, request):
        data = validated(s.LoginSerializer, request)
        tokens = auth_services.login(request=request, **data)
        return Response(s.TokenPairSerializer(tokens).data)


class RefreshView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.RefreshTokenSerializer,
        responses={200: s.TokenPairSerializer, **problems(*_ANONYMOUS)},
        auth=[],
    )
    def post(self, request):
        data = validated(s.RefreshTokenSerializer, request)
        tokens = auth_services.token_refresh(**data)
        return Response(s.TokenPairSerializer(tokens).data)


class LogoutView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.RefreshTokenSerializer, responses={204: None, **problems(*_ANONYMOUS)},
        auth=[],
    )
    def post(self, request):
        data = validated(s.RefreshTokenSerializer, request)
        auth_services.logout(**data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: s.UserSerializer, **problems(*_AUTHED)})
    def get(self, request):
        return Response(s.UserSerializer(request.user).data)


# --- Tables and sessions ----------------------------------------------------------------------


@extend_schema_view(get=extend_schema(responses={200: s.TableSerializer, **_LIST}))
class TableListView(RestaurantScopedMixin, generics.ListAPIView):
    serializer_class = s.TableSerializer
    filterset_class = TableFilter

    def get_queryset(self):
        return selectors.table_list(restaurant=self.restaurant)


class TableSessionOpenView(RestaurantScopedMixin, APIView):
    @extend_schema(
        request=s.TableSessionOpenSerializer,
        responses={201: s.TableSessionSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, table_id):
        data = validated(s.TableSessionOpenSerializer, request)
        table = selectors.table_ref(restaurant=self.restaurant, table_id=table_id)
        session = services.table_session_open(actor=request.user, table=table, **data)
        return Response(s.represent(s.TableSessionSerializer, session), status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(responses={200: s.TableSessionSerializer, **_LIST}))
class TableSessionListView(RestaurantScopedMixin, generics.ListAPIView):
    serializer_class = s.TableSessionSerializer
    filterset_class = TableSessionFilter

    def get_queryset(self):
        return selectors.table_session_list(restaurant=self.restaurant)


class TableSessionDetailView(RestaurantScopedMixin, APIView):
    @extend_schema(responses={200: s.TableSessionSerializer, **_READ})
    def get(self, request, session_id):
        session = selectors.table_session_get(restaurant=self.restaurant, session_id=session_id)
        return Response(s.represent(s.TableSessionSerializer, session))


class TableSessionCloseView(RestaurantScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: s.TableSessionSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, session_id):
        session = selectors.table_session_ref(restaurant=self.restaurant, session_id=session_id)
        session = services.table_session_close(actor=request.user, session=session)
        return Response(s.represent(s.TableSessionSerializer, session))


# --- Menu -------------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(responses={200: s.MenuItemSerializer, **_LIST}))
class MenuItemListView(RestaurantScopedMixin, generics.ListAPIView):
    serializer_class = s.MenuItemSerializer
    filterset_class = MenuItemFilter

    def get_queryset(self):
        return selectors.menu_with_modifiers(restaurant=self.restaurant)


class MenuItemAvailabilityView(RestaurantScopedMixin, APIView):
    @extend_schema(
        request=s.AvailabilitySerializer, responses={200: s.MenuItemSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
        description="KITCHEN, MANAGER. 86 a dish (`available: false`, optionally until "
        "`availableAgainAt`), or count its portions down (`remaining`). Every change emits "
        "`menu.item.availability.changed`.",
    )
    @idempotent
    def post(self, request, menu_item_id):
        data = validated(s.AvailabilitySerializer, request)
        menu_item = selectors.menu_item_ref(restaurant=self.restaurant, menu_item_id=menu_item_id)
        menu_item = services.menu_item_set_availability(
            actor=request.user, menu_item=menu_item, available=data["available"],
            remaining=data.get("remaining", services.UNSET),
            available_again_at=data.get("available_again_at", services.UNSET),
        )
        menu_item = selectors.menu_item_with_modifiers(restaurant=self.restaurant, menu_item=menu_item)
        return Response(s.represent(s.MenuItemSerializer, menu_item))


# --- Orders -----------------------------------------------------------------------------------


SCREEN_HEADER = "X-Kitchen-Screen"


class OrderScopedMixin(RestaurantScopedMixin):
    """Order views. A kitchen screen sends its id (`X-Kitchen-Screen`) with every call: the
    history records the change as made from it (when the screen is the restaurant's)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        screen = selectors.screen_of(restaurant=self.restaurant, screen_id=request.headers.get(SCREEN_HEADER))
        self._screen_token = history.acting_screen.set(screen)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_screen_token", None)
        if token is not None:
            history.acting_screen.reset(token)
            self._screen_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    def _order(self, order_id):
        return selectors.order_get(restaurant=self.restaurant, order_id=order_id)

    def _order_ref(self, order_id):
        return selectors.order_ref(restaurant=self.restaurant, order_id=order_id)

    def _item(self, order_id, item_id):
        return selectors.order_item_get(restaurant=self.restaurant, order_id=order_id, item_id=item_id)

    def _item_ref(self, order_id, item_id):
        return selectors.order_item_ref(restaurant=self.restaurant, order_id=order_id, item_id=item_id)

    def _render(self, order, code=status.HTTP_200_OK, *, created=False, confirmed=False):
        """The order as the service committed it, items included. What this request did to
        it is not read back: an order it `created` has no items, and no screen can have
        acknowledged the ticket of one it `confirmed` (the ticket is published after the
        commit)."""
        unseen = created or confirmed
        order = selectors.order_with_items(
            restaurant=self.restaurant, order=order, items=not created, screens=not unseen
        )
        data = r.order_json(order, items=[] if created else None, seen=[] if unseen else None)
        return Response(data, status=code)


@extend_schema_view(get=extend_schema(responses={200: s.OrderSerializer, **_LIST}))
class OrderListCreateView(OrderScopedMixin, generics.ListAPIView):
    serializer_class = s.OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_list(restaurant=self.restaurant)

    def list(self, request, *args, **kwargs):
        """ListAPIView's, rendering each order as `representations.order_json`."""
        orders = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(orders)
        if page is None:
            return Response([r.order_json(o) for o in orders])
        return self.get_paginated_response([r.order_json(o) for o in page])

    @extend_schema(
        request=s.OrderCreateSerializer, responses={201: s.OrderSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request):
        data = validated(s.OrderCreateSerializer, request)
        session = selectors.table_session_ref(
            restaurant=self.restaurant, session_id=data["table_session_id"]
        )
        order = services.order_create(
            actor=request.user, table_session=session, notes=data.get("notes", "")
        )
        return self._render(order, status.HTTP_201_CREATED, created=True)


class OrderDetailView(OrderScopedMixin, APIView):
    @extend_schema(responses={200: s.OrderSerializer, **_READ})
    def get(self, request, order_id):
        return Response(r.order_json(self._order(order_id)))


class OrderConfirmView(OrderScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: s.OrderSerializer, **_WRITE}, parameters=[IDEMPOTENCY_KEY]
    )
    @idempotent
    def post(self, request, order_id):
        order = services.order_confirm(actor=request.user, order=self._order_ref(order_id))
        return self._render(order, confirmed=True)


class OrderCancelView(OrderScopedMixin, APIView):
    @extend_schema(
        request=s.OrderCancelSerializer, responses={200: s.OrderSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, order_id):
        data = validated(s.OrderCancelSerializer, request)
        order = services.order_cancel(
            actor=request.user, order=self._order_ref(order_id), reason=data.get("reason", "")
        )
        return self._render(order)


class OrderItemCreateView(OrderScopedMixin, APIView):
    @extend_schema(
        request=s.OrderItemCreateSerializer, responses={201: s.OrderItemDetailSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
        description="WAITER, MANAGER. While DRAFT, or as an add-on while CONFIRMED, "
        "IN_PROGRESS or READY (event `order.items.added`). A free-form item (name and "
        "unitPrice) gets no station even when named like a dish: give `menuItemId` to route "
        "it. 409 `item-unavailable`: the dish or an option is 86'd or too few portions are "
        "left; 422 `order-limit-exceeded`: the order would exceed its bounds.",
    )
    @idempotent
    def post(self, request, order_id):
        data = dict(validated(s.OrderItemCreateSerializer, request))
        data["modifiers"] = [dict(m) for m in data.get("modifiers", [])]
        order = self._order_ref(order_id)
        menu_item_id = data.pop("menu_item_id", None)
        if menu_item_id is not None:
            data["menu_item"] = selectors.menu_item_get(
                restaurant=self.restaurant, menu_item_id=menu_item_id
            )
        item = services.order_item_add(actor=request.user, order=order, **data)
        return Response(r.item_json(item), status=status.HTTP_201_CREATED)


class OrderItemDetailView(OrderScopedMixin, APIView):
    @extend_schema(responses={200: s.OrderItemDetailSerializer, **_READ})
    def get(self, request, order_id, item_id):
        return Response(r.item_json(self._item(order_id, item_id)))

    @extend_schema(request=s.OrderItemUpdateSerializer, responses={200: s.OrderItemDetailSerializer, **_WRITE})
    def patch(self, request, order_id, item_id):
        changes = validated(s.OrderItemUpdateSerializer, request, partial=True)
        item = services.order_item_update(
            actor=request.user, item=self._item_ref(order_id, item_id), **changes
        )
        return Response(r.item_json(item))

    @extend_schema(responses={204: None, **_WRITE})
    def delete(self, request, order_id, item_id):
        services.order_item_remove(actor=request.user, item=self._item_ref(order_id, item_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrderItemStatusView(OrderScopedMixin, APIView):
    @extend_schema(
        request=s.ItemStatusSerializer, responses={200: s.OrderItemDetailSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
        description="409 `illegal-transition`, or for PENDING → IN_PROGRESS `course-held` (the "
        "course is not fired) and `allergy-unacknowledged`. CANCELLED takes a `reason` (void).",
    )
    @idempotent
    def post(self, request, order_id, item_id):
        data = validated(s.ItemStatusSerializer, request)
        item = services.item_set_status(
            actor=request.user, item=self._item_ref(order_id, item_id), status=data["status"],
            expected_status=data.get("expected_status"), reason=data.get("reason", ""),
        )
        return Response(r.item_json(item))


class OrderItemAcknowledgeAllergyView(OrderScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: s.OrderItemDetailSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY],
        description="KITCHEN, MANAGER. A cook has read the item's declared allergies; until "
        "then it cannot start. Emits `order.item.allergy.acknowledged`.",
    )
    @idempotent
    def post(self, request, order_id, item_id):
        item = services.item_acknowledge_allergy(
            actor=request.user, item=self._item_ref(order_id, item_id)
        )
        return Response(r.item_json(item))


class OrderActionView(OrderScopedMixin, APIView):
    """POST an action on an order: validate `input_serializer`, call `act`, render the order."""

    input_serializer = None

    def act(self, request, order, data):
        raise NotImplementedError

    @idempotent
    def post(self, request, order_id):
        data = validated(self.input_serializer, request)
        return self._render(self.act(request, self._order_ref(order_id), data))


def _order_action_schema(input_serializer, description):
    return extend_schema_view(post=extend_schema(
        request=input_serializer, responses={200: s.OrderSerializer, **_WRITE},
        parameters=[IDEMPOTENCY_KEY], description=description,
    ))


@_order_action_schema(
    s.FireCourseSerializer,
    "WAITER, KITCHEN, MANAGER. Fire a held course: its items may start. Emits "
    "`order.course.fired`.",
)
class OrderFireView(OrderActionView):
    input_serializer = s.FireCourseSerializer

    def act(self, request, order, data):
        return services.order_fire_course(actor=request.user, order=order, course=data["course"]).order


@_order_action_schema(
    s.PrioritySerializer,
    "WAITER, KITCHEN, MANAGER. NORMAL or RUSH; emits `order.priority.changed` when it changes.",
)
class OrderPriorityView(OrderActionView):
    input_serializer = s.PrioritySerializer

    def act(self, request, order, data):
        return services.order_set_priority(actor=request.user, order=order, priority=data["priority"])


# --- Kitchen display ----------------------------------------------------------------------------


class KitchenBoardView(RestaurantScopedMixin, APIView):
    """Everything a kitchen screen shows: open tickets, oldest first, and its settings."""

    @extend_schema(responses={200: s.KitchenBoardSerializer, **problems(*_AUTHED)})
    def get(self, request):
        restaurant = self.restaurant
        board = {
            "server_time": timezone.now(),
            "amber_after_minutes": restaurant.ticket_amber_after_minutes,
            "red_after_minutes": restaurant.ticket_red_after_minutes,
            "stations": selectors.menu_stations(restaurant=restaurant),
            "stations_down": stations_down(restaurant.pk),
            "tickets": selectors.kitchen_tickets(restaurant=restaurant),
        }
        return Response(s.represent(s.KitchenBoardSerializer, board))


class KitchenTicketView(RestaurantScopedMixin, APIView):
    @extend_schema(responses={200: s.KitchenTicketSerializer, **_READ})
    def get(self, request, order_id):
        ticket = selectors.kitchen_ticket_get(restaurant=self.restaurant, order_id=order_id)
        return Response(s.represent(s.KitchenTicketSerializer, ticket))


class OrderBumpView(OrderScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: s.OrderSerializer, **_WRITE}, parameters=[IDEMPOTENCY_KEY],
        description="Kitchen: every PENDING or IN_PROGRESS item of the order becomes READY.",
    )
    @idempotent
    def post(self, request, order_id):
        order = services.order_bump(actor=request.user, order=self._order_ref(order_id))
        return self._render(order)


class OrderRecallView(OrderScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: s.OrderSerializer, **_WRITE}, parameters=[IDEMPOTENCY_KEY],
        description="Kitchen: undo a bump; the order's READY items go back to IN_PROGRESS.",
    )
    @idempotent
    def post(self, request, order_id):
        order = services.order_recall(actor=request.user, order=self._order_ref(order_id))
        return self._render(order)
