"""ESCOMBOT's `userId` session cookie, made safe.

The document's cookie held the raw user id, which anyone could forge. Here it is a signed,
timestamped token (Django's signing with SECRET_KEY) holding the user id and the user's
session hash, so it cannot be forged, expires after 7 days, and stops working when the
password changes or the account is suspended. It is httpOnly, SameSite=Lax and Secure
over HTTPS.

A cookie is sent by the browser on its own, so an unsafe request authenticated by it must
be `application/json`: a cross-site form cannot send that content type without a CORS
preflight, which is the CSRF defence (415 otherwise).
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from accounts.models import User

COOKIE_NAME = "userId"
COOKIE_MAX_AGE = timedelta(days=7)
_SALT = "bytchat.compat.escombot.session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def session_cookie_set(response: HttpResponse, *, request: HttpRequest, user: User) -> None:
    value = signing.dumps({"id": str(user.pk), "hash": user.get_session_auth_hash()}, salt=_SALT)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=int(COOKIE_MAX_AGE.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def session_user(request: HttpRequest) -> User | None:
    """The active user of a valid, unexpired cookie; None without one or with a bad one."""
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        payload = signing.loads(raw, salt=_SALT, max_age=COOKIE_MAX_AGE)
        user = User.objects.select_related("plan").filter(pk=payload["id"]).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(str(payload.get("hash", "")), user.get_session_auth_hash()):
        return None
    return user


def json_body_required(request: HttpRequest) -> None:
    """The CSRF defence: every unsafe request of this API must be application/json."""
    if request.method in SAFE_METHODS:
        return
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise exceptions.UnsupportedMediaType(content_type or "none")


def authenticated_user(request: HttpRequest) -> User:
    user = session_user(request)
    if user is None:
        raise exceptions.NotAuthenticated()
    return user


class SessionCookieAuthentication(BaseAuthentication):
    """DRF authentication by the signed `userId` cookie."""

    def authenticate(self, request):
        user = session_user(request._request)
        return None if user is None else (user, None)

    def authenticate_header(self, request) -> str:
        # A 401, not DRF's 403 fallback for schemes without a challenge.
        return 'Cookie realm="escombot"'
