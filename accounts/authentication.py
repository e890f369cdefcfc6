"""Bearer-token authentication for the native API and its streaming views."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication

from accounts.models import User


class _UsersWithPlan:
    """What simplejwt's `get_user` needs of the user model, reading the plan in the same
    query: every chat turn checks the plan's limits, and this saves it a query."""

    objects = User.objects.select_related("plan")
    DoesNotExist = User.DoesNotExist


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's, with each user's plan loaded alongside it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithPlan


class JWTScheme(SimpleJWTScheme):
    """Its OpenAPI description: simplejwt's Bearer scheme (registered by subclassing)."""

    target_class = JWTAuthentication
