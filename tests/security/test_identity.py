"""One account identity: every email is stored, looked up and throttled in one normalised form
(restaurant.identity.account_key), unique in the database."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import IntegrityError, transaction

from orders.models import Role, User
from restaurant.identity import account_key

from ..factories import PASSWORD, UserFactory
from ..orders._wire_support import assert_problem, login
from ..orders.test_admin import ADMIN, STRONG_PASSWORD
from ..orders.test_admin import admin_client as _admin

pytestmark = [pytest.mark.postgres]


def _add_staff(manager, email):
    return _admin(manager).post(f"{ADMIN}orders/user/add/", {
        "email": email, "name": "Look Alike", "role": Role.KITCHEN,
        "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD,
    })


@pytest.mark.parametrize("raw, key", [
    ("Chef@Mail.Example", "chef@mail.example"),
    ("ＣＨＥＦ@mail.example", "chef@mail.example"),  # fullwidth
    ("\u212aitchen@restaurante.com", "kitchen@restaurante.com"),  # KELVIN SIGN
    ("kitchen@re\u017ftaurante.com", "kitchen@restaurante.com"),  # LATIN SMALL LONG S
    ("  Straße@x.de ", "strasse@x.de"),
    ("chef@ma\u0131l.example", "chef@ma\u0131l.example"),  # dotless i is another letter
])
def test_account_key_is_nfkc_casefold(raw, key):
    assert account_key(raw) == key
    assert account_key(key) == key


def test_a_dotless_i_account_in_another_restaurant_does_not_break_a_login(floor, other_floor):
    """Reproduced: B's manager created chef@maıl.example; A's chef@mail.example then got a 500
    on every login (`email__iexact` matched both rows on PostgreSQL)."""
    chef = UserFactory(email="chef@mail.example", role=Role.KITCHEN, restaurant=floor.restaurant)
    response = _add_staff(other_floor.manager, "chef@ma\u0131l.example")
    assert response.status_code == 302, response.content
    lookalike = User.objects.get(email="chef@ma\u0131l.example")
    assert lookalike.restaurant_id == other_floor.restaurant.pk

    ok = login("chef@mail.example", PASSWORD)
    assert ok.status_code == 200, ok.content
    assert ok.json()["user"]["id"] == str(chef.pk)
    ok = login("chef@ma\u0131l.example", STRONG_PASSWORD)
    assert ok.status_code == 200, ok.content
    assert ok.json()["user"]["id"] == str(lookalike.pk)


def test_a_spelling_that_folds_to_another_account_is_that_account_for_the_throttle(floor):
    """Reproduced: `kıtchen@reſtaurante.com` dodged kitchen@restaurante.com's throttle and
    signed in as it. Spellings that fold to the account's key are the account (one counter);
    the dotless-i spelling is another (non-existent) account and signs nobody in."""
    kitchen = UserFactory(
        email="kitchen@restaurante.com", role=Role.KITCHEN, restaurant=floor.restaurant
    )
    assert_problem(login("k\u0131tchen@re\u017ftaurante.com", PASSWORD), 401, "unauthenticated")

    limit = int(settings.LOGIN_THROTTLE_ACCOUNT.split("/")[0])
    spellings = ["KITCHEN@restaurante.com", "\u212aitchen@restaurante.com",
                 "kitchen@re\u017ftaurante.com", "ｋｉｔｃｈｅｎ@restaurante.com"]
    for attempt in range(limit):
        assert_problem(login(spellings[attempt % len(spellings)], "wrong"), 401, "unauthenticated")
    assert_problem(login(kitchen.email, PASSWORD), 429, "throttled")


@pytest.mark.parametrize("spelling", ["CHEF@MAIL.EXAMPLE", "ｃｈｅｆ@mail.example", " chef@mail.example"])
def test_the_admin_refuses_an_email_that_is_another_restaurants_account(floor, other_floor, spelling):
    UserFactory(email="chef@mail.example", role=Role.KITCHEN, restaurant=floor.restaurant)
    response = _add_staff(other_floor.manager, spelling)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == ["This email cannot be used."]
    assert b"already exists" not in response.content
    assert User.objects.filter(email="chef@mail.example").count() == 1
    assert not User.objects.filter(restaurant=other_floor.restaurant, name="Look Alike").exists()


def test_the_database_refuses_two_rows_of_one_identity(floor):
    UserFactory(email="chef@mail.example", restaurant=floor.restaurant)
    for spelling in ["Chef@MAIL.example", "ＣＨＥＦ@mail.example", "chef@mail.example "]:
        with pytest.raises(IntegrityError), transaction.atomic():
            User(email=spelling, restaurant=floor.restaurant).save()


# --- the migration --------------------------------------------------------------------------


def _migration():
    from importlib import import_module

    return import_module("orders.migrations.0002_user_email_normalized")


def test_the_migration_normalises_existing_emails(floor):
    user = UserFactory(restaurant=floor.restaurant)
    User.objects.filter(pk=user.pk).update(email="Old.Style@Example.COM")  # as 0001 allowed
    _migration().normalize_emails(django_apps, None)
    user.refresh_from_db()
    assert user.email == "old.style@example.com"
    assert login("OLD.style@example.com", PASSWORD).status_code == 200


def test_the_migration_refuses_colliding_accounts_and_names_them(floor, other_floor):
    first = UserFactory(restaurant=floor.restaurant)
    second = UserFactory(restaurant=other_floor.restaurant)
    User.objects.filter(pk=first.pk).update(email="Chef@Mail.example")
    User.objects.filter(pk=second.pk).update(email="ｃｈｅｆ@mail.example")
    migration = _migration()
    with pytest.raises(migration.EmailCollision) as refused:
        migration.normalize_emails(django_apps, None)
    message = str(refused.value)
    assert "'chef@mail.example'" in message
    assert str(first.pk) in message and str(second.pk) in message
    assert "Nothing was changed" in message
    assert set(User.objects.filter(pk__in=[first.pk, second.pk]).values_list("email", flat=True)) == {
        "Chef@Mail.example", "ｃｈｅｆ@mail.example"
    }
