from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Restaurant ordering"

    def ready(self):
        from . import access  # noqa: F401 - connects the receivers that detect access changes
