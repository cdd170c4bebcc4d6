"""Abstract models: timestamps and the tracking of a row's previous values."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone



def _status_check(name: str, field: str, choices: type[models.TextChoices]):
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class TimestampedModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        abstract = True


class ChangeTrackingModel(TimestampedModel):
    """Remembers the values of `tracked_fields` it was loaded (or last saved) with.

    Signal receivers use them to tell a real change from any other save, whichever code path
    made it (services, the admin, a shell). An instance not loaded from the database (built
    from a pk) has no loaded values: `loaded()` is `NOT_LOADED`.
    """

    NOT_LOADED = object()
    tracked_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = {f: instance.__dict__.get(f) for f in cls.tracked_fields}
        return instance

    def loaded(self, field: str):
        return getattr(self, "_loaded", {}).get(field, self.NOT_LOADED)

    def changed(self, field: str) -> bool:
        before = self.loaded(field)
        return before is not self.NOT_LOADED and before != getattr(self, field)

    def save(self, *args, **kwargs):
        # post_save receivers run inside super().save() and still see the loaded values.
        super().save(*args, **kwargs)
        self._loaded = {f: getattr(self, f) for f in self.tracked_fields}


class StatusTrackingModel(ChangeTrackingModel):
    """`previous_status`: the status it was loaded (or last saved) with."""

    tracked_fields = ("status",)

    class Meta:
        abstract = True

    @property
    def previous_status(self):
        before = self.loaded("status")
        return None if before is self.NOT_LOADED else before

    @property
    def status_changed(self) -> bool:
        return self.previous_status != self.status
