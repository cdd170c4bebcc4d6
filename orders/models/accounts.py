"""Restaurants and their staff accounts."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from restaurant.identity import account_key

from .vocabulary import Role, validate_timezone
from .base import _status_check, TimestampedModel


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
