"""Which committed changes to a user their tokens no longer tell, detected once for every
channel (`signals.access_changed`): REST refuses the older tokens or checks them against the
database (restaurant.revocation), realtime closes the user's sockets.

Whatever saved the change (the admin, a service, `set_password` and `save()` in a shell):
model signals see every save and delete. A bulk `QuerySet.update()` sends none; nothing in
the project changes users that way.
"""

import logging

from django.contrib.auth.hashers import is_password_usable
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from restaurant import revocation, tenants

from .models import Restaurant, User
from .signals import access_changed

logger = logging.getLogger(__name__)

# Ends access: deactivated, moved to another restaurant, password changed or reset.
_ACCESS_FIELDS = {"is_active", "restaurant", "restaurant_id", "password"}
# What an access token carries of its user besides (orders.auth_services.token_claims).
_CLAIM_FIELDS = {"role", "is_superuser", "name", "email"}
_READ = ["is_active", "restaurant_id", "password", *sorted(_CLAIM_FIELDS)]


def _could_sign_in(encoded_password: str) -> bool:
    # A first password (an account just created) ends nobody's access.
    return bool(encoded_password) and is_password_usable(encoded_password)


def _announce(user_id, ended) -> None:
    # Robust: one listener failing (a socket layer down) must not keep the others from acting.
    for listener, failure in access_changed.send_robust(sender=User, user_id=user_id, ended=ended):
        if isinstance(failure, Exception):
            logger.error("%s failed on user %s's access change", listener, user_id, exc_info=failure)


def _announce_on_commit(user_id, ended) -> None:
    transaction.on_commit(lambda: _announce(user_id, ended))


@receiver(pre_save, sender=User, dispatch_uid="orders.user_changing")
def user_changing(sender, instance: User, update_fields=None, **kwargs):
    instance._access_change = None
    if instance.pk is None or (
        update_fields is not None and not (_ACCESS_FIELDS | _CLAIM_FIELDS) & set(update_fields)
    ):
        return  # e.g. `last_login` at every login: nothing a token tells
    before = User.objects.filter(pk=instance.pk).values(*_READ).first()
    if not before:
        return
    if (before["is_active"] and not instance.is_active) or (
        before["restaurant_id"] != instance.restaurant_id
    ):
        instance._access_change = ("Account changed",)
    elif before["password"] != instance.password and _could_sign_in(before["password"]):
        instance._access_change = ("Password changed",)
    elif any(before[field] != getattr(instance, field) for field in _CLAIM_FIELDS):
        instance._access_change = (None,)


@receiver(post_save, sender=User, dispatch_uid="orders.user_changed")
def user_changed(sender, instance: User, created, **kwargs):
    change = getattr(instance, "_access_change", None)
    if change:
        instance._access_change = None
        _announce_on_commit(instance.pk, change[0])


@receiver(post_delete, sender=User, dispatch_uid="orders.user_deleted")
def user_deleted(sender, instance: User, **kwargs):
    _announce_on_commit(instance.pk, "Account deleted")


@receiver(access_changed, dispatch_uid="orders.outdate_rest_tokens")
def outdate_rest_tokens(sender, user_id, **kwargs):
    revocation.outdate_user_tokens(user_id)


@receiver([post_save, post_delete], sender=Restaurant, dispatch_uid="orders.restaurant_changed")
def restaurant_changed(sender, instance: Restaurant, **kwargs):
    restaurant_id = instance.pk
    transaction.on_commit(lambda: tenants.forget(restaurant_id))
