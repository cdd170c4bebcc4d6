"""factory_boy factories for the ordering domain."""

from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from orders.models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Restaurant,
    Role,
    Table,
    TableSession,
    User,
)

PASSWORD = "correct-horse-battery"


class RestaurantFactory(DjangoModelFactory):
    class Meta:
        model = Restaurant

    name = factory.Sequence(lambda n: f"Restaurant {n}")
    slug = factory.Sequence(lambda n: f"restaurant-{n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    role = Role.WAITER
    restaurant = factory.SubFactory(RestaurantFactory)
    is_staff = factory.LazyAttribute(lambda u: u.role == Role.MANAGER)

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class TableFactory(DjangoModelFactory):
    class Meta:
        model = Table

    restaurant = factory.SubFactory(RestaurantFactory)
    name = factory.Sequence(lambda n: f"T{n}")


class TableSessionFactory(DjangoModelFactory):
    class Meta:
        model = TableSession

    table = factory.SubFactory(TableFactory)


class MenuItemFactory(DjangoModelFactory):
    class Meta:
        model = MenuItem

    restaurant = factory.SubFactory(RestaurantFactory)
    name = factory.Sequence(lambda n: f"Dish {n}")
    price = Decimal("12.50")
    station = "grill"


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    table_session = factory.SubFactory(TableSessionFactory)
    restaurant = factory.LazyAttribute(lambda o: o.table_session.table.restaurant)
    status = OrderStatus.DRAFT


class OrderItemFactory(DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    name = factory.Sequence(lambda n: f"Item {n}")
    qty = 1
    unit_price = Decimal("10.00")
    status = ItemStatus.PENDING
    # An item of a sent order was fired with it (as confirm does for a one-course order).
    fired_at = factory.LazyAttribute(
        lambda i: None if i.order.status == OrderStatus.DRAFT else timezone.now()
    )
