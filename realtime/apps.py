from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime events"

    def import_models(self):
        super().import_models()
        from .webhooks import models  # noqa: F401 - webhook models belong to this app

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
        from .webhooks import admin  # noqa: F401 - registers on the project's admin site
