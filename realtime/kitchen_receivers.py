"""Model signals of the kitchen operations become outbox events in the same transaction.

Whatever saved the change (a service, the admin, a shell, the relay's 86 sweep), a field
that really changed (`ChangeTrackingModel.changed`) becomes its event; the outbox publishes
it after commit, in commit order. Connected by `RealtimeConfig.ready`.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from orders.history import Action, HistoryEntry
from orders.models import CourseFiring, MenuItem, Order, OrderItem, OrderStatus

from . import kitchen_payloads as payloads
from .events import PICKUP_CALLED, record


def _saved(instance, field, update_fields) -> bool:
    return instance.changed(field) and (update_fields is None or field in update_fields)


def _restaurant_of_item(item: OrderItem):
    if OrderItem.order.is_cached(item):
        return item.order.restaurant_id
    return Order.objects.values_list("restaurant_id", flat=True).get(pk=item.order_id)


def _order_status_of_item(item: OrderItem):
    if OrderItem.order.is_cached(item):
        return item.order.status
    return Order.objects.values_list("status", flat=True).get(pk=item.order_id)


@receiver(post_save, sender=OrderItem, dispatch_uid="realtime.kitchen.item_saved")
def item_saved(sender, instance: OrderItem, created, update_fields=None, **kwargs):
    if created:
        # An add-on: an item added after the order was sent, on the same ticket.
        if _order_status_of_item(instance) != OrderStatus.DRAFT:
            restaurant_id = _restaurant_of_item(instance)
            record(restaurant_id, payloads.ITEMS_ADDED, payloads.items_added(instance, restaurant_id))
        return
    if _saved(instance, "allergy_acknowledged_at", update_fields) and instance.allergy_acknowledged_at:
        restaurant_id = _restaurant_of_item(instance)
        record(
            restaurant_id, payloads.ALLERGY_ACKNOWLEDGED,
            payloads.allergy_acknowledged(instance, restaurant_id),
        )


@receiver(post_save, sender=CourseFiring, dispatch_uid="realtime.kitchen.course_fired")
def course_fired(sender, instance: CourseFiring, created, **kwargs):
    if created:
        restaurant_id = instance.order.restaurant_id
        record(restaurant_id, payloads.COURSE_FIRED, payloads.course_fired(instance, restaurant_id))


@receiver(post_save, sender=Order, dispatch_uid="realtime.kitchen.order_saved")
def order_saved(sender, instance: Order, created, update_fields=None, **kwargs):
    if not created and _saved(instance, "priority", update_fields):
        record(instance.restaurant_id, payloads.PRIORITY_CHANGED, payloads.priority_changed(instance))


@receiver(post_save, sender=MenuItem, dispatch_uid="realtime.kitchen.menu_item_saved")
def menu_item_saved(sender, instance: MenuItem, created, update_fields=None, **kwargs):
    if created:
        return
    if any(_saved(instance, field, update_fields) for field in MenuItem.tracked_fields):
        record(
            instance.restaurant_id, payloads.AVAILABILITY_CHANGED,
            payloads.availability_changed(instance),
        )


@receiver(post_save, sender=HistoryEntry, dispatch_uid="realtime.kitchen.history_written")
def history_written(sender, instance: HistoryEntry, created, **kwargs):
    if created and instance.action == Action.PICKUP_CALLED:
        record(instance.restaurant_id, PICKUP_CALLED, payloads.pickup_called(instance))
