"""Bearer-token authentication for the native API and its streaming views."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication

from accounts.models import User
from accounts.selectors import user_get_for_auth


class _CachedUsers:
    """What simplejwt's `get_user` needs of the user model (`objects.get(id=...)` and
    `DoesNotExist`), answered by `user_get_for_auth`: the user with their plan, which every
    chat turn checks, from the cache the account services keep current."""

    class objects:
        @staticmethod
        def get(*, id) -> User:
            user = user_get_for_auth(user_id=id)
            if user is None:
                raise User.DoesNotExist
            return user

    DoesNotExist = User.DoesNotExist


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's, with each user (and plan) read through the cache."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _CachedUsers


class JWTScheme(SimpleJWTScheme):
    """Its OpenAPI description: simplejwt's Bearer scheme (registered by subclassing)."""

    target_class = JWTAuthentication
