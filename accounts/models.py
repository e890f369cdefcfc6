from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Role(models.TextChoices):
    USER = "user", "User"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Language(models.TextChoices):
    ES = "es", "Español"
    EN = "en", "English"


class Plan(models.Model):
    """What a user may do. A null limit means unlimited.

    A user's plan is `accounts.selectors.user_plan` (theirs, else the default one), and
    the limits that count rows serialise one user's requests with
    `accounts.services.user_limits_lock`. Each limit is enforced in one place:

    - `max_bots`: `bots.services.bot_create` (active bots the user owns).
    - `max_conversations_per_bot`, `max_active_conversations`:
      `chat.services.conversations.conversation_create_in_transaction` (unarchived ones).
    - `max_messages_per_conversation`: `chat.services.conversations.conversation_reserve_turn`.
    - `messages_per_minute`: `chat.services.limits.message_rate_check`.
    - `monthly_token_quota`: `chat.services.limits.token_quota_reserve`.
    """

    name = models.CharField(max_length=100, unique=True)
    # A stable UUID for the clients that name plans by UUID (MagicAI's subscriptionType.id).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_default = models.BooleanField(default=False, help_text="Given to new users.")
    max_bots = models.PositiveIntegerField(null=True, blank=True)
    max_conversations_per_bot = models.PositiveIntegerField(null=True, blank=True)
    max_active_conversations = models.PositiveIntegerField(null=True, blank=True)
    max_messages_per_conversation = models.PositiveIntegerField(null=True, blank=True)
    messages_per_minute = models.PositiveIntegerField(null=True, blank=True)
    monthly_token_quota = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_plan"
            )
        ]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        if extra.get("plan") is None and extra.get("plan_id") is None:
            extra["plan"] = Plan.objects.filter(is_default=True).first()
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        # createsuperuser passes Django's flags; a Bytchat superuser is simply an admin.
        extra.pop("is_staff", None)
        extra.pop("is_superuser", None)
        extra["role"] = Role.ADMIN
        extra.setdefault("onboarding_completed", True)
        return self.create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """Emails are stored lower-cased so uniqueness and login ignore case."""
    return email.strip().lower()


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    status = models.CharField(max_length=16, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ES)
    onboarding_completed = models.BooleanField(default=False)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    created_at = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        indexes = [models.Index(fields=["role", "status"])]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    # Django's auth machinery and simplejwt read these flags; the role and the status are
    # the single source of truth for them.
    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.MANAGER, Role.ADMIN)

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_manager_or_admin(self) -> bool:
        return self.role in (Role.MANAGER, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def has_perm(self, perm: str, obj=None) -> bool:
        # Admins may do everything in the Django admin; managers may look but not change.
        if not self.is_active:
            return False
        if self.role == Role.ADMIN:
            return True
        if self.role == Role.MANAGER:
            return perm.split(".", 1)[-1].startswith("view_")
        return False

    def has_perms(self, perm_list, obj=None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_staff
