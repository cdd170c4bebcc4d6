import uuid
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from restaurant.identity import account_key


class Role(models.TextChoices):
    MANAGER = "MANAGER", "Manager"
    WAITER = "WAITER", "Waiter"
    KITCHEN = "KITCHEN", "Kitchen"


class TableSessionStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    CLOSED = "CLOSED", "Closed"


class OrderStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    CONFIRMED = "CONFIRMED", "Confirmed"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    READY = "READY", "Ready"
    SERVED = "SERVED", "Served"
    CANCELLED = "CANCELLED", "Cancelled"


class ItemStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    READY = "READY", "Ready"
    SERVED = "SERVED", "Served"
    CANCELLED = "CANCELLED", "Cancelled"


def _status_check(name: str, field: str, choices: type[models.TextChoices]):
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class TimestampedModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        abstract = True


class StatusTrackingModel(TimestampedModel):
    """Remembers the status it was loaded (or last saved) with.

    `previous_status` lets signal receivers tell a real status change from any other save,
    whichever code path made it (services, the admin, a shell).
    """

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._status_at_load = instance.__dict__.get("status")
        return instance

    @property
    def previous_status(self):
        return getattr(self, "_status_at_load", None)

    @property
    def status_changed(self) -> bool:
        return self.previous_status != self.status

    def save(self, *args, **kwargs):
        # post_save receivers run inside super().save() and still see the old status.
        super().save(*args, **kwargs)
        self._status_at_load = self.status


class Restaurant(TimestampedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # Kitchen display: a ticket turns amber, then red, when it has waited this long.
    ticket_amber_after_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    ticket_red_after_minutes = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket_red_after_minutes__gt=models.F("ticket_amber_after_minutes")),
                name="restaurant_red_after_amber",
                violation_error_message="The red threshold must be later than the amber one.",
            )
        ]

    def __str__(self):
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=account_key(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", extra.get("role") == Role.MANAGER)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        extra.setdefault("role", Role.MANAGER)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        # Exact, on the stored form: `email` only ever holds `account_key` (see User.save).
        return self.get(email=account_key(email))


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Holds `account_key(email)` only, so that its unique index is the identity's. The unique
    # message names no one: the clashing account may be another restaurant's.
    email = models.EmailField(
        unique=True, max_length=254, error_messages={"unique": "This email cannot be used."}
    )
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.WAITER)
    restaurant = models.ForeignKey(
        Restaurant, on_delete=models.PROTECT, related_name="staff", null=True, blank=True,
        help_text="Every staff member belongs to one restaurant; only superusers may have none.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May log in to the Django admin (managers of a restaurant)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    # Nothing but email and password: `createsuperuser --noinput` then needs only
    # DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD (the name is optional, blank=True).
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [
            _status_check("user_role_valid", "role", Role),
            models.CheckConstraint(
                condition=Q(is_superuser=True) | Q(restaurant__isnull=False),
                name="user_has_restaurant_unless_superuser",
                violation_error_message="Staff must belong to a restaurant.",
            ),
        ]

    def __str__(self):
        return self.email

    @classmethod
    def normalize_username(cls, username):
        # AbstractBaseUser.clean() (model forms, the admin) stores the identity's one form.
        return account_key(username) if isinstance(username, str) else username

    def save(self, *args, **kwargs):
        self.email = account_key(self.email or "")
        super().save(*args, **kwargs)


class Table(TimestampedModel):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=50)
    seats = models.PositiveSmallIntegerField(default=4, validators=[MaxValueValidator(100)])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="table_name_unique")
        ]

    def __str__(self):
        return f"Table {self.name}"


class TableSession(TimestampedModel):
    """A party seated at a table, from seating until the table is cleared."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="sessions")
    status = models.CharField(
        max_length=16, choices=TableSessionStatus.choices, default=TableSessionStatus.OPEN
    )
    guests = models.PositiveSmallIntegerField(null=True, blank=True)
    opened_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["table"],
                condition=Q(status=TableSessionStatus.OPEN),
                name="one_open_session_per_table",
                violation_error_message="This table already has an open session.",
            ),
            _status_check("table_session_status_valid", "status", TableSessionStatus),
            models.CheckConstraint(
                condition=Q(status=TableSessionStatus.OPEN, closed_at__isnull=True)
                | Q(status=TableSessionStatus.CLOSED, closed_at__isnull=False),
                name="table_session_closed_at_matches_status",
            ),
        ]

    def __str__(self):
        return f"{self.table} ({self.get_status_display()}, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def restaurant_id(self):
        return self.table.restaurant_id

    @property
    def restaurant(self):
        return self.table.restaurant


class MenuItem(TimestampedModel):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="menu")
    name = models.CharField(max_length=200)
    price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(
        max_length=50, blank=True, help_text="Kitchen station that prepares it, e.g. grill, bar."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["station", "name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="menu_item_name_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="menu_item_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.price})"


class Order(StatusTrackingModel):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="orders")
    table_session = models.ForeignKey(
        TableSession, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.DRAFT, db_index=True
    )
    notes = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [_status_check("order_status_valid", "status", OrderStatus)]
        indexes = [models.Index(fields=["restaurant", "status", "created_at"])]

    def __str__(self):
        return f"Order {str(self.id)[:8]} ({self.status})"

    @property
    def total(self) -> Decimal:
        return sum(
            (i.line_total for i in self.items.all() if i.status != ItemStatus.CANCELLED),
            Decimal("0.00"),
        )


class OrderItem(StatusTrackingModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    menu_item = models.ForeignKey(
        MenuItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Name, price and station are copied when the item is added: a later menu edit must not
    # rewrite what was ordered.
    name = models.CharField(max_length=200)
    qty = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(999)])
    unit_price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True
    )
    notes = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _status_check("order_item_status_valid", "status", ItemStatus),
            models.CheckConstraint(condition=Q(qty__gte=1), name="order_item_qty_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_item_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.qty} × {self.name} ({self.status})"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.qty


class IdempotencyRecord(models.Model):
    """The first answer given to a POST carrying an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
