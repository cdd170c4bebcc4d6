import uuid
import zoneinfo
from decimal import Decimal

from django import forms

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
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


class Priority(models.TextChoices):
    NORMAL = "NORMAL", "Normal"
    RUSH = "RUSH", "Rush"


class Allergen(models.TextChoices):
    """The 14 allergens EU Regulation 1169/2011 (Annex II) requires a menu to declare."""

    GLUTEN = "gluten", "Cereals containing gluten"
    CRUSTACEANS = "crustaceans", "Crustaceans"
    EGGS = "eggs", "Eggs"
    FISH = "fish", "Fish"
    PEANUTS = "peanuts", "Peanuts"
    SOYBEANS = "soybeans", "Soybeans"
    MILK = "milk", "Milk"
    NUTS = "nuts", "Tree nuts"
    CELERY = "celery", "Celery"
    MUSTARD = "mustard", "Mustard"
    SESAME = "sesame", "Sesame"
    SULPHITES = "sulphites", "Sulphur dioxide and sulphites"
    LUPIN = "lupin", "Lupin"
    MOLLUSCS = "molluscs", "Molluscs"


_ALLERGEN_ORDER = {code: index for index, code in enumerate(Allergen.values)}


def canonical_allergens(codes) -> list[str]:
    """Codes without repeats, in the regulation's order (how every list is stored and shown)."""
    return sorted(set(codes), key=_ALLERGEN_ORDER.__getitem__)


def validate_allergens(value) -> None:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError("A list of allergen codes.", code="invalid")
    unknown = sorted(set(value) - set(Allergen.values))
    if unknown:
        raise ValidationError(
            "Unknown allergen code(s): %(codes)s. Allowed: %(allowed)s.",
            code="invalid",
            params={"codes": ", ".join(unknown), "allowed": " ".join(Allergen.values)},
        )


# Database defaults of the columns added for kitchen operations: rows written by other code
# than Django's (the reference's own SQL in bench/peer) still get valid values.
EMPTY_JSON_LIST = models.Value([], output_field=models.JSONField())


class AllergenListField(models.JSONField):
    """A list of `Allergen` codes, stored in canonical order; checkboxes in the admin."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        kwargs.setdefault("db_default", EMPTY_JSON_LIST)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("validators", [validate_allergens])
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, list) and set(value) <= set(Allergen.values):
            value = canonical_allergens(value)
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        return forms.MultipleChoiceField(
            choices=Allergen.choices, required=False, label=self.verbose_name.capitalize(),
            widget=forms.CheckboxSelectMultiple, help_text=self.help_text,
        )


def validate_timezone(value) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not an IANA time zone name.", params={"value": value})


# Bounds of what an order may hold (issue 11): each keeps every later read, list, event and
# admin page renderable. The total is rendered with 12 digits; this leaves room to spare.
MAX_QTY = 999
MAX_LINES_PER_ORDER = 200
MAX_MODIFIERS_PER_ITEM = 20
MAX_PRICE_DELTA = Decimal("9999.99")
MAX_ORDER_TOTAL = Decimal("99999999.99")
MAX_COURSE = 9
MAX_REMAINING = 100000


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
    timezone = models.CharField(
        max_length=64, default="UTC", db_default="UTC", validators=[validate_timezone],
        help_text="IANA time zone, e.g. Europe/Madrid: ticket numbers restart at its midnight.",
    )
    auto_fire_next_course = models.BooleanField(
        "fire next course automatically", default=False, db_default=False,
        help_text="Fire an order's next course as soon as every item of the previous one is "
        "served.",
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


class MenuItem(ChangeTrackingModel):
    tracked_fields = ("available", "remaining", "available_again_at")

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="menu")
    name = models.CharField(max_length=200)
    price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(
        max_length=50, blank=True, help_text="Kitchen station that prepares it, e.g. grill, bar."
    )
    active = models.BooleanField(default=True)
    allergens = AllergenListField(help_text="What the dish contains (EU's 14 allergens).")
    course = models.PositiveSmallIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_COURSE)],
        help_text="Default course: 1 starters, 2 mains, 3 desserts.",
    )
    prep_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(600)],
        help_text="Target preparation time.",
    )
    # "86": off for tonight (or until a time), or counted down portion by portion.
    available = models.BooleanField(
        default=True, db_default=True, help_text="Off while the dish is 86'd."
    )
    remaining = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_REMAINING)],
        help_text="Portions left; empty when not counted. At 0 the dish becomes unavailable.",
    )
    available_again_at = models.DateTimeField(
        null=True, blank=True, help_text="When an 86'd dish comes back by itself."
    )

    class Meta:
        ordering = ["station", "name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="menu_item_name_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="menu_item_price_not_negative"),
            models.CheckConstraint(
                condition=Q(course__gte=1, course__lte=MAX_COURSE), name="menu_item_course_range"
            ),
            models.CheckConstraint(
                condition=~Q(available=True, remaining=0),
                name="menu_item_none_left_is_unavailable",
                violation_error_message="A dish with no portions left cannot be available.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.price})"

    def clean(self):
        # The same 86 rules as the kitchen's endpoint, for forms (the admin) too.
        super().clean()
        if self.available:
            self.available_again_at = None
            if self.remaining == 0:
                raise ValidationError(
                    {"remaining": "No portions left: give some, clear the count, or 86 the dish."}
                )
        elif (
            self.available_again_at is not None
            and self.changed("available_again_at")
            and self.available_again_at <= timezone.now()
        ):
            raise ValidationError({"available_again_at": "A time in the future."})


class ModifierGroup(models.Model):
    """A choice the guest makes for a dish: "Doneness" (exactly one), "Extras" (up to 3)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    menu_item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, related_name="modifier_groups")
    name = models.CharField(max_length=100)
    min_select = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_MODIFIERS_PER_ITEM)],
        help_text="1 or more makes the choice required.",
    )
    max_select = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_MODIFIERS_PER_ITEM)]
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["menu_item", "name"], name="modifier_group_name_unique"),
            models.CheckConstraint(
                condition=Q(max_select__gte=1) & Q(max_select__gte=models.F("min_select")),
                name="modifier_group_max_at_least_min",
                violation_error_message="Maximum must be at least 1 and at least the minimum.",
            ),
        ]

    def __str__(self):
        return f"{self.menu_item.name}: {self.name}"

    @property
    def restaurant_id(self):
        return self.menu_item.restaurant_id


class ModifierOption(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(ModifierGroup, on_delete=models.CASCADE, related_name="options")
    name = models.CharField(max_length=100)
    price_delta = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(-MAX_PRICE_DELTA), MaxValueValidator(MAX_PRICE_DELTA)],
    )
    allergens = AllergenListField(help_text="What the option adds to the dish.")
    available = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="modifier_option_name_unique"),
            models.CheckConstraint(
                condition=Q(price_delta__gte=-MAX_PRICE_DELTA, price_delta__lte=MAX_PRICE_DELTA),
                name="modifier_option_price_delta_range",
            ),
        ]

    def __str__(self):
        sign = "+" if self.price_delta >= 0 else ""
        return f"{self.name} ({sign}{self.price_delta})"


class Order(StatusTrackingModel):
    tracked_fields = ("status", "priority")

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
    priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL, db_default=Priority.NORMAL
    )
    # The short ticket number the kitchen calls out: given on confirm, restarting each day at
    # midnight in the restaurant's time zone (`service_date` is that day).
    number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    service_date = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _status_check("order_status_valid", "status", OrderStatus),
            _status_check("order_priority_valid", "priority", Priority),
            models.UniqueConstraint(
                fields=["restaurant", "service_date", "number"],
                condition=Q(number__isnull=False),
                name="order_number_unique_per_day",
            ),
            models.CheckConstraint(
                condition=Q(number__isnull=True, service_date__isnull=True)
                | Q(number__isnull=False, service_date__isnull=False),
                name="order_number_has_service_date",
            ),
        ]
        indexes = [models.Index(fields=["restaurant", "status", "created_at"])]

    def __str__(self):
        if self.number:
            return f"Order #{self.number} ({self.status})"
        return f"Order {str(self.id)[:8]} ({self.status})"

    @property
    def total(self) -> Decimal:
        return sum(
            (i.line_total for i in self.items.all() if i.status != ItemStatus.CANCELLED),
            Decimal("0.00"),
        )


class OrderItem(StatusTrackingModel):
    tracked_fields = ("status", "allergy_acknowledged_at")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    menu_item = models.ForeignKey(
        MenuItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Name, price and station are copied when the item is added: a later menu edit must not
    # rewrite what was ordered.
    name = models.CharField(max_length=200)
    qty = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QTY)]
    )
    unit_price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True
    )
    notes = models.CharField(max_length=500, blank=True)
    # Copied when added, like name and price: [{"name", "priceDelta", "optionId"}], the
    # price delta a decimal string, optionId null for a free-form modifier ("no onion").
    modifiers = models.JSONField(default=list, db_default=EMPTY_JSON_LIST, blank=True)
    modifiers_price = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00"),
        help_text="Sum of the modifiers' price deltas, per unit.",
    )
    course = models.PositiveSmallIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_COURSE)]
    )
    seat = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    fired_at = models.DateTimeField(null=True, blank=True, help_text="Null while its course is held.")
    allergens = AllergenListField(help_text="What the dish contains, with its chosen options.")
    allergies = AllergenListField(help_text="What the guest declared for this dish.")
    allergy_acknowledged_at = models.DateTimeField(null=True, blank=True)
    allergy_acknowledged_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True, db_default="")
    # When it was last made READY and when SERVED: the kitchen times report reads these two
    # and `fired_at` (a recall clears `ready_at`; the next READY sets it again).
    ready_at = models.DateTimeField(null=True, blank=True, editable=False)
    served_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _status_check("order_item_status_valid", "status", ItemStatus),
            models.CheckConstraint(condition=Q(qty__gte=1), name="order_item_qty_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_item_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=-models.F("modifiers_price")),
                name="order_item_price_with_modifiers_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(course__gte=1, course__lte=MAX_COURSE), name="order_item_course_range"
            ),
        ]
        indexes = [
            # The kitchen times report: a restaurant's fired items in a date range.
            models.Index(
                fields=["fired_at"], name="order_item_fired_ready",
                condition=Q(ready_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.qty} × {self.name} ({self.status})"

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price + self.modifiers_price) * self.qty

    @property
    def allergen_conflicts(self) -> list[str]:
        return canonical_allergens(set(self.allergens) & set(self.allergies))


class CourseFiring(models.Model):
    """A course of an order sent to the kitchen after the order was (the `fire` call, or the
    restaurant's automatic firing). The lowest course fires with the confirmation itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="course_firings")
    course = models.PositiveSmallIntegerField()
    item_ids = models.JSONField(default=list, help_text="The held items it fired.")
    fired_at = models.DateTimeField(default=timezone.now)
    fired_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Empty when the restaurant's automatic firing did it.",
    )

    class Meta:
        ordering = ["fired_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "course"], name="course_fired_once"),
        ]


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


from .history import HistoryEntry  # noqa: E402,F401  (a model of this app, in its own module)
from .screens import Screen, ScreenDelivery  # noqa: E402,F401
