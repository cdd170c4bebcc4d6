"""Model signals are the seam between `orders` and `realtime`.

Whatever saved the change (a service, the admin, a shell), a status that really changed
becomes an outbox event in the same transaction; a change that ends a user's access closes
their sockets once committed.
"""

from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from orders.models import Order, OrderItem, OrderStatus
from orders.signals import access_changed, tokens_revoked

from . import events
from .auth import session_login_id
from .publisher import publisher


def _status_saved(instance, created, update_fields) -> bool:
    if created or instance.previous_status is None or not instance.status_changed:
        return False
    return update_fields is None or "status" in update_fields


@receiver(post_save, sender=OrderItem, dispatch_uid="realtime.item_saved")
def item_saved(sender, instance: OrderItem, created, update_fields=None, **kwargs):
    if _status_saved(instance, created, update_fields):
        if OrderItem.order.is_cached(instance):
            restaurant_id = instance.order.restaurant_id
        else:
            restaurant_id = Order.objects.values_list("restaurant_id", flat=True).get(
                pk=instance.order_id
            )
        events.record(
            restaurant_id, events.ITEM_STATUS_CHANGED,
            events.item_status_changed(instance, restaurant_id),
        )


@receiver(post_save, sender=Order, dispatch_uid="realtime.order_saved")
def order_saved(sender, instance: Order, created, update_fields=None, **kwargs):
    if not _status_saved(instance, created, update_fields):
        return
    named = [(events.ORDER_STATUS_CHANGED, events.order_status_changed(instance))]
    if instance.previous_status == OrderStatus.DRAFT and instance.status == OrderStatus.CONFIRMED:
        named.insert(0, (events.ORDER_NEW, events.order_new(instance)))
    events.record_many(instance.restaurant_id, named)


# --- Sockets that must close: access ended on any channel ------------------------------------
#
# Every change that ends a user's access closes their open sockets (both transports), once
# committed: deactivated, moved to another restaurant, password changed or reset, deleted
# (`orders.access` tells them; REST refuses the old tokens on the same signal). Ending one
# login (API logout, a reused refresh token, signing out of a session page) closes that
# login's sockets only.


def _revoke_on_commit(user_id, reason: str, session_id=None) -> None:
    transaction.on_commit(lambda: publisher.revoke(user_id, session_id=session_id, reason=reason))


@receiver(access_changed, dispatch_uid="realtime.access_changed")
def on_access_changed(sender, user_id, ended=None, **kwargs):
    if ended:  # sent once committed
        publisher.revoke(user_id, session_id=None, reason=ended)


@receiver(user_logged_out, dispatch_uid="realtime.session_signed_out")
def session_signed_out(sender, request, user, **kwargs):
    """`logout()` of a Django session (the kitchen page's sign-out, the admin's): the sockets
    that session's cookie opened. Sent before the session is flushed, so its key is there."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        _revoke_on_commit(user.pk, "Signed out", session_id=session_login_id(session_key))


@receiver(tokens_revoked, dispatch_uid="realtime.tokens_revoked")
def on_tokens_revoked(sender, user_id, session_id=None, **kwargs):
    _revoke_on_commit(user_id, "Logged out", session_id=session_id)
