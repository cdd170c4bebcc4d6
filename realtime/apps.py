from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime events"

    def ready(self):
        # The reference's receivers first: an item's status event precedes any kitchen one.
        from . import receivers  # noqa: F401 - connects the signal receivers
        from . import kitchen_receivers  # noqa: F401
        from . import screen_watch  # noqa: F401 - presence refresh and sweep on each server loop
