"""Demo data of CONTRACT.md. Safe to run again: it converges to the same state."""

from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders import services
from orders.models import (
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Restaurant,
    Role,
    Table,
    TableSession,
    TableSessionStatus,
    User,
)

PASSWORD = "password123"


def dish(name, price, station, *, course=1, allergens=(), prep=None, groups=()):
    return {"name": name, "price": price, "station": station, "course": course,
            "allergens": list(allergens), "prep_minutes": prep, "groups": groups}


def group(name, min_select, max_select, *options):
    """options: (name, price delta, allergens)."""
    return {"name": name, "min_select": min_select, "max_select": max_select, "options": options}


# Starters are course 1, mains 2, desserts 3; drinks go with the first course, at the bar.
DEMO_MENU = [
    dish("Hamburguesa", "15.50", "grill", course=2, allergens=["gluten", "sesame"], prep=12, groups=[
        group("Punto", 1, 1, ("Poco hecha", "0.00", []), ("Al punto", "0.00", []),
              ("Bien hecha", "0.00", [])),
        group("Extras", 0, 3, ("Bacon", "1.50", []), ("Queso cheddar", "1.00", ["milk"]),
              ("Huevo frito", "1.20", ["eggs"]), ("Aguacate", "1.80", [])),
    ]),
    dish("Tacos al pastor", "12.00", "grill", course=2, prep=10, groups=[
        group("Salsa", 0, 1, ("Verde", "0.00", []), ("Roja", "0.00", []),
              ("Habanero", "0.50", [])),
    ]),
    dish("Papas fritas", "4.50", "fry", prep=6),
    dish("Ensalada César", "9.00", "cold", allergens=["gluten", "eggs", "fish", "milk", "mustard"],
         prep=5),
    dish("Sopa del día", "6.50", "hot", allergens=["celery"], prep=4),
    dish("Flan", "5.50", "pastry", course=3, allergens=["eggs", "milk"], prep=3),
    dish("Limonada", "3.00", "bar", prep=2),
    dish("Café", "2.00", "bar", prep=2, groups=[
        group("Leche", 0, 1, ("Entera", "0.00", ["milk"]), ("Avena", "0.40", ["gluten"]),
              ("Sin lactosa", "0.00", ["milk"])),
    ]),
]
OTHER_MENU = [dish("Pizza", "11.00", "oven", course=2, allergens=["gluten", "milk"]),
              dish("Agua", "1.50", "bar")]


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
            "Other", "other", tables=3, menu=OTHER_MENU,
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
        for entry in menu:
            self._dish(restaurant, entry)
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

    def _dish(self, restaurant, entry):
        # Availability (86) is the kitchen's: seeding again leaves it as it is.
        menu_item, _ = MenuItem.objects.update_or_create(
            restaurant=restaurant, name=entry["name"],
            defaults={"price": Decimal(entry["price"]), "station": entry["station"], "active": True,
                      "course": entry["course"], "allergens": entry["allergens"],
                      "prep_minutes": entry["prep_minutes"]},
        )
        for position, spec in enumerate(entry["groups"]):
            modifier_group, _ = ModifierGroup.objects.update_or_create(
                menu_item=menu_item, name=spec["name"],
                defaults={"min_select": spec["min_select"], "max_select": spec["max_select"],
                          "position": position},
            )
            for index, (name, delta, allergens) in enumerate(spec["options"]):
                ModifierOption.objects.update_or_create(
                    group=modifier_group, name=name,
                    defaults={"price_delta": Decimal(delta), "allergens": allergens,
                              "position": index, "available": True},
                )

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
