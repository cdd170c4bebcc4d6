from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime events"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
