from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime events"

    def import_models(self):
        super().import_models()
        from .printers import models as printer_models  # noqa: F401 - and printers' too
        from .webhooks import models  # noqa: F401 - webhook models belong to this app

    def ready(self):
        # The reference's receivers first: an item's status event precedes any kitchen one.
        from . import receivers  # noqa: F401 - connects the signal receivers
        from . import kitchen_receivers  # noqa: F401
        from .printers import admin as printer_admin  # noqa: F401 - on the project's admin site
        from .webhooks import admin  # noqa: F401 - registers on the project's admin site
        from . import screen_watch  # noqa: F401 - presence refresh and sweep on each server loop
