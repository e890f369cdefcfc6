"""Account rules: registration, login, tokens, password reset, profile and administration."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import login_throttle
from accounts.errors import (
    AccountSuspended,
    EmailDomainNotAllowed,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetLink,
    SelfModificationForbidden,
)
from accounts.models import Language, Plan, Role, User, UserStatus, normalize_email
from accounts.selectors import ACCOUNT_DELETIONS, CACHED_USERS, EVERY_PLAN
from bytchat.cached import forget, forget_all
from bytchat.errors import InvalidInput


# --- Policy ------------------------------------------------------------------------------
def email_domain_check(*, email: str) -> None:
    """ALLOWED_EMAIL_DOMAINS empty: any domain. Otherwise the domain must be listed."""
    allowed = settings.ALLOWED_EMAIL_DOMAINS
    if not allowed:
        return
    domain = normalize_email(email).rpartition("@")[2]
    if domain not in allowed:
        raise EmailDomainNotAllowed(
            f"Only email addresses of these domains are allowed: {', '.join(allowed)}.",
            fields={"email": ["This email domain is not allowed."]},
        )


def _password_check(*, password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(fields={"password": list(exc.messages)}) from exc


# --- Plans and limits --------------------------------------------------------------------
def plan_save(*, plan: Plan) -> Plan:
    """Create or change a plan (the admin's form). Its limits apply from the next request:
    every user's cached plan is forgotten."""
    with transaction.atomic():
        plan.save()
        forget_all(EVERY_PLAN)
    return plan


def plan_delete(*, plan: Plan) -> None:
    """Delete a plan that no user has (users protect theirs)."""
    with transaction.atomic():
        plan.delete()
        forget_all(EVERY_PLAN)


def user_limits_lock(*, user: User) -> None:
    """Serialise one user's check-then-write limit rules inside the caller's transaction:
    parallel requests queue on the user's row, so none counts before another has written.
    NO KEY UPDATE (not plain UPDATE) so that inserts referencing the user, which take a
    KEY SHARE lock, are not blocked by it and cannot deadlock with it."""
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True).first()


# --- Users -------------------------------------------------------------------------------
def user_forget(*, user: User) -> None:
    """Call next to every write of a user: authentication reads users from the cache
    (`selectors.user_get_for_auth`), and the change must hold from the next request."""
    forget(CACHED_USERS, str(user.pk))


def user_create(
    *,
    email: str,
    password: str,
    full_name: str = "",
    language: str = Language.ES,
    role: str = Role.USER,
    plan: Plan | None = None,
) -> User:
    email = normalize_email(email)
    email_domain_check(email=email)
    duplicate = InvalidInput(fields={"email": ["A user with this email already exists."]})
    if User.objects.filter(email__iexact=email).exists():
        raise duplicate
    candidate = User(email=email, full_name=full_name)
    _password_check(password=password, user=candidate)
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email,
                password=password,
                full_name=full_name,
                language=language,
                role=role,
                plan=plan,
            )
    except IntegrityError as exc:  # a concurrent registration won the race
        raise duplicate from exc


def user_update_profile(*, user: User, full_name: str | None = None, language: str | None = None) -> User:
    if full_name is not None:
        user.full_name = full_name
    if language is not None:
        user.language = language
    user.save(update_fields=["full_name", "language"])
    user_forget(user=user)
    return user


def user_complete_onboarding(*, user: User) -> User:
    user.onboarding_completed = True
    user.save(update_fields=["onboarding_completed"])
    user_forget(user=user)
    return user


def user_admin_update(
    *,
    actor: User,
    user: User,
    role: str | None = None,
    status: str | None = None,
    plan: Plan | None = None,
) -> User:
    """An administrator changes a user's role, status or plan."""
    if actor.pk == user.pk and (
        (role is not None and role != user.role) or (status is not None and status != user.status)
    ):
        raise SelfModificationForbidden()
    with transaction.atomic():
        if role is not None:
            user.role = role
        if plan is not None:
            user.plan = plan
        user.save(update_fields=["role", "plan"])
        user_forget(user=user)
        if status is not None:
            user_set_status(actor=actor, user=user, status=status)
    return user


def user_set_status(*, actor: User, user: User, status: str) -> User:
    """Suspend or reactivate. A suspension revokes every refresh token at once; access
    tokens stop working on their next request because authentication checks the status."""
    if actor.pk == user.pk and status != user.status:
        raise SelfModificationForbidden()
    with transaction.atomic():
        user.status = status
        user.save(update_fields=["status"])
        user_forget(user=user)
        if status == UserStatus.SUSPENDED:
            _revoke_refresh_tokens(user=user)
    return user


def user_delete(*, user: User) -> None:
    """Delete an account and what it owns (the admin's delete). Its tokens and API keys stop
    working on their next request."""
    user_id = user.pk  # delete() clears it
    with transaction.atomic():
        user.delete()
        forget(CACHED_USERS, str(user_id))
        # Its bots went with it (a cascade, no bot service ran): forget every cached bot.
        forget_all(ACCOUNT_DELETIONS)


def _revoke_refresh_tokens(*, user: User) -> None:
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


# --- Login and tokens --------------------------------------------------------------------
@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    token_type: str
    expires_in: int


def _token_pair(refresh: RefreshToken) -> TokenPair:
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    return TokenPair(
        access=str(refresh.access_token),
        refresh=str(refresh),
        token_type="bearer",
        expires_in=int(lifetime.total_seconds()),
    )


def user_authenticate(*, email: str, password: str, ip: str) -> User:
    """Check credentials under the failed-login throttle and the email-domain policy."""
    email_domain_check(email=email)
    login_throttle.login_attempt_count(email=email, ip=ip)
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None:
        make_password(password)  # spend the same time as a real check: no email probing
        raise InvalidCredentials()
    if not user.check_password(password):
        raise InvalidCredentials()
    login_throttle.login_attempt_succeeded(email=email, ip=ip)
    if not user.is_active:
        raise AccountSuspended()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    user_forget(user=user)
    return user


def auth_tokens_issue(*, user: User) -> TokenPair:
    return _token_pair(RefreshToken.for_user(user))


def auth_login(*, email: str, password: str, ip: str) -> tuple[User, TokenPair]:
    user = user_authenticate(email=email, password=password, ip=ip)
    return user, auth_tokens_issue(user=user)


def auth_tokens_refresh(*, refresh: str) -> TokenPair:
    """A new access token (and a rotated refresh token) for a valid, unrevoked refresh token."""
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except (TokenError, User.DoesNotExist) as exc:
        raise InvalidRefreshToken() from exc
    data = serializer.validated_data
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    return TokenPair(
        access=data["access"],
        refresh=data.get("refresh", refresh),
        token_type="bearer",
        expires_in=int(lifetime.total_seconds()),
    )


def auth_logout(*, refresh: str) -> None:
    try:
        RefreshToken(refresh).blacklist()
    except TokenError as exc:
        raise InvalidRefreshToken() from exc


# --- Password reset ----------------------------------------------------------------------
def password_reset_request(*, email: str) -> None:
    """Send a reset link if an active account exists. The caller learns nothing either way."""
    from accounts.tasks import send_password_reset_email

    user = User.objects.filter(email=normalize_email(email), status=UserStatus.ACTIVE).first()
    if user is not None:
        user_id = str(user.pk)
        transaction.on_commit(lambda: send_password_reset_email.delay(user_id))


def password_reset_link(*, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + settings.PASSWORD_RESET_PATH.format(uid=uid, token=token)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link. The token is single-use: it is derived from
    the password hash and the last login, so it stops matching once the password changes."""
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
        user = User.objects.get(pk=user_id)
    except (ValueError, TypeError, OverflowError, DjangoValidationError, User.DoesNotExist) as exc:
        raise InvalidResetLink() from exc
    if not user.is_active or not default_token_generator.check_token(user, token):
        raise InvalidResetLink()
    _password_check(password=new_password, user=user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        user_forget(user=user)
        _revoke_refresh_tokens(user=user)
    login_throttle.login_failures_clear(email=user.email)
    return user
