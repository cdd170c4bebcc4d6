"""A manager runs its staff in the admin (deactivate, reset a password, edit name and role)
without touching audit fields, and the admin's errors never tell of another restaurant."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from orders.models import Restaurant, Role, User

from ..factories import PASSWORD
from ..orders._wire_support import login
from ..orders.test_admin import ADMIN, STRONG_PASSWORD
from ..orders.test_admin import admin_client as _admin

pytestmark = [pytest.mark.postgres]


def _change_form(user, **changes) -> dict:
    data = {"email": user.email, "name": user.name, "role": user.role, "is_active": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_manager_deactivates_a_fired_cook(floor):
    """Reproduced: every staff change failed with "Please correct the error below"
    (`date_joined` required but read-only)."""
    cook = floor.kitchen
    assert login(cook.email, PASSWORD).status_code == 200
    response = _admin(floor.manager).post(
        f"{ADMIN}orders/user/{cook.pk}/change/", _change_form(cook, is_active=None)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cook.refresh_from_db()
    assert not cook.is_active
    assert login(cook.email, PASSWORD).status_code == 401


def test_manager_edits_name_and_role(floor):
    waiter = floor.waiter
    response = _admin(floor.manager).post(
        f"{ADMIN}orders/user/{waiter.pk}/change/",
        _change_form(waiter, name="Renamed Person", role=Role.KITCHEN),
    )
    assert response.status_code == 302
    waiter.refresh_from_db()
    assert (waiter.name, waiter.role) == ("Renamed Person", Role.KITCHEN)


def test_manager_resets_a_password_and_the_old_one_stops_working(floor):
    waiter = floor.waiter
    response = _admin(floor.manager).post(
        f"{ADMIN}orders/user/{waiter.pk}/password/",
        {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )
    assert response.status_code == 302
    assert login(waiter.email, PASSWORD).status_code == 401
    assert login(waiter.email, STRONG_PASSWORD).status_code == 200


def test_a_crafted_post_cannot_rewrite_audit_fields(floor):
    """Reproduced: a crafted POST rewrote `last_login` / `date_joined`."""
    waiter = floor.waiter
    joined, last = waiter.date_joined, waiter.last_login
    response = _admin(floor.manager).post(
        f"{ADMIN}orders/user/{waiter.pk}/change/",
        _change_form(
            waiter, name="Still Here",
            date_joined_0="2000-01-01", date_joined_1="00:00:00", date_joined="2000-01-01 00:00:00",
            last_login_0="2000-01-01", last_login_1="00:00:00", last_login="2000-01-01 00:00:00",
        ),
    )
    assert response.status_code == 302
    waiter.refresh_from_db()
    assert waiter.name == "Still Here"
    assert waiter.date_joined == joined
    assert waiter.last_login == last
    page = _admin(floor.manager).get(f"{ADMIN}orders/user/{waiter.pk}/change/")
    assert "date_joined" not in page.context["adminform"].form.fields
    assert "last_login" not in page.context["adminform"].form.fields


def test_superuser_cannot_rewrite_audit_fields_either(floor):
    root = User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    waiter = floor.waiter
    joined = waiter.date_joined
    response = _admin(root).post(
        f"{ADMIN}orders/user/{waiter.pk}/change/",
        _change_form(waiter, restaurant=str(floor.restaurant.pk),
                     date_joined_0="2000-01-01", date_joined_1="00:00:00"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    waiter.refresh_from_db()
    assert waiter.date_joined == joined != datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_a_taken_email_gets_a_neutral_error_naming_no_one(floor, other_floor):
    """Reproduced: "User with this Email already exists." for another restaurant's staff."""
    response = _admin(other_floor.manager).post(
        f"{ADMIN}orders/user/{other_floor.waiter.pk}/change/",
        _change_form(other_floor.waiter, email=floor.waiter.email.upper()),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == ["This email cannot be used."]
    content = response.content.decode()
    assert "already exists" not in content
    assert floor.restaurant.name not in content


def test_a_taken_slug_gets_a_neutral_error(floor, other_floor):
    """Reproduced: the restaurant form confirmed that another restaurant's slug exists."""
    restaurant = other_floor.restaurant
    response = _admin(other_floor.manager).post(
        f"{ADMIN}orders/restaurant/{restaurant.pk}/change/",
        {"name": restaurant.name, "slug": floor.restaurant.slug,
         "ticket_amber_after_minutes": 10, "ticket_red_after_minutes": 20},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["slug"] == ["This slug cannot be used."]
    assert "already exists" not in response.content.decode()
    assert Restaurant.objects.get(pk=restaurant.pk).slug == restaurant.slug
