"""Demo data of docs/contract.md. Safe to run again: it converges to the same state."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders import services
from orders.models import MenuItem, Restaurant, Role, Table, TableSession, TableSessionStatus, User

PASSWORD = "password123"

DEMO_MENU = [
    ("Hamburguesa", "15.50", "grill"),
    ("Tacos al pastor", "12.00", "grill"),
    ("Papas fritas", "4.50", "fry"),
    ("Ensalada César", "9.00", "cold"),
    ("Sopa del día", "6.50", "hot"),
    ("Flan", "5.50", "pastry"),
    ("Limonada", "3.00", "bar"),
    ("Café", "2.00", "bar"),
]


class Command(BaseCommand):
    help = "Create the Demo and Other restaurants with tables, menus, staff and an open session."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (e.g. a staging site)."
        )

    @transaction.atomic
    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo users with known passwords while DEBUG is off. "
                "Pass --force if this really is a demo or staging deployment."
            )
        demo = self._restaurant(
            "Demo", "demo", tables=8, menu=DEMO_MENU,
            staff=[
                ("manager@restaurante.com", "Demo Manager", Role.MANAGER),
                ("waiter@restaurante.com", "Demo Waiter", Role.WAITER),
                ("kitchen@restaurante.com", "Demo Kitchen", Role.KITCHEN),
            ],
        )
        other = self._restaurant(
            "Other", "other", tables=3, menu=[("Pizza", "11.00", "oven"), ("Agua", "1.50", "bar")],
            staff=[("waiter@other.com", "Other Waiter", Role.WAITER)],
        )
        for restaurant, waiter_email in ((demo, "waiter@restaurante.com"), (other, "waiter@other.com")):
            session = self._open_session(restaurant, User.objects.get(email=waiter_email))
            self.stdout.write(
                f"{restaurant.name}: restaurantId={restaurant.pk} "
                f"open tableSessionId={session.pk} ({session.table})"
            )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready; every password is {PASSWORD!r}."))

    def _restaurant(self, name, slug, *, tables, menu, staff):
        restaurant, _ = Restaurant.objects.get_or_create(slug=slug, defaults={"name": name})
        for number in range(1, tables + 1):
            Table.objects.get_or_create(restaurant=restaurant, name=str(number), defaults={"seats": 4})
        for item_name, price, station in menu:
            MenuItem.objects.update_or_create(
                restaurant=restaurant, name=item_name,
                defaults={"price": Decimal(price), "station": station, "active": True},
            )
        for email, full_name, role in staff:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=PASSWORD, name=full_name, role=role, restaurant=restaurant
                )
            user.name, user.role, user.restaurant = full_name, role, restaurant
            user.is_active, user.is_staff = True, role == Role.MANAGER
            if not user.check_password(PASSWORD):
                user.set_password(PASSWORD)
            user.save()
        return restaurant

    def _open_session(self, restaurant, waiter):
        existing = (
            TableSession.objects.filter(table__restaurant=restaurant, status=TableSessionStatus.OPEN)
            .order_by("created_at")
            .first()
        )
        if existing:
            return existing
        table = Table.objects.get(restaurant=restaurant, name="1")
        return services.table_session_open(actor=waiter, table=table, guests=2)
