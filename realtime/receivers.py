"""Model signals are the seam between `orders` and `realtime`.

Whatever saved the change (a service, the admin, a shell), a status that really changed
becomes an outbox event in the same transaction.
"""

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from orders.models import Order, OrderItem, OrderStatus, User
from orders.signals import tokens_revoked

from . import events
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
    if instance.previous_status == OrderStatus.DRAFT and instance.status == OrderStatus.CONFIRMED:
        events.record(instance.restaurant_id, events.ORDER_NEW, events.order_new(instance))
    events.record(
        instance.restaurant_id, events.ORDER_STATUS_CHANGED, events.order_status_changed(instance)
    )


# --- Sockets that must close: deactivated, moved to another restaurant, logged out ----------


@receiver(pre_save, sender=User, dispatch_uid="realtime.user_changing")
def user_changing(sender, instance: User, **kwargs):
    if instance.pk is None:
        return
    before = User.objects.filter(pk=instance.pk).values("is_active", "restaurant_id").first()
    instance._access_revoked = bool(before) and (
        (before["is_active"] and not instance.is_active)
        or before["restaurant_id"] != instance.restaurant_id
    )


@receiver(post_save, sender=User, dispatch_uid="realtime.user_changed")
def user_changed(sender, instance: User, created, **kwargs):
    if getattr(instance, "_access_revoked", False):
        instance._access_revoked = False
        user_id = instance.pk
        transaction.on_commit(lambda: publisher.revoke(user_id, reason="Account changed"))


@receiver(tokens_revoked, dispatch_uid="realtime.tokens_revoked")
def on_tokens_revoked(sender, user_id, session_id=None, **kwargs):
    transaction.on_commit(lambda: publisher.revoke(user_id, session_id=session_id, reason="Logged out"))
