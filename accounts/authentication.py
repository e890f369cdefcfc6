"""Bearer-token authentication for the native API and its streaming views."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

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


# Access tokens this process has verified, by their bytes: a client sends the same one
# with every request for its lifetime, and checking its signature and claims again took
# about 0.1 ms of each request's CPU. Only a token that passed every check is kept; its
# expiry is checked again at each use. Access tokens are never revoked (only refresh
# tokens are blacklisted), so nothing else about one can change. Bounded: emptied when full.
_VERIFIED_TOKENS_KEPT = 10_000
_verified: dict[bytes, Token] = {}


def _still_valid(token: Token) -> bool:
    try:
        token.check_exp(current_time=aware_utcnow())
    except TokenError:
        return False
    return True


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's, with each user (and plan) read through the cache, and each access
    token's signature verified once per process."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user_model = _CachedUsers

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _verified.get(raw_token)
        if token is not None and _still_valid(token):
            return token
        _verified.pop(raw_token, None)
        token = super().get_validated_token(raw_token)  # raises for a token that fails
        if len(_verified) >= _VERIFIED_TOKENS_KEPT:
            _verified.clear()
        _verified[bytes(raw_token)] = token
        return token


class JWTScheme(SimpleJWTScheme):
    """Its OpenAPI description: simplejwt's Bearer scheme (registered by subclassing)."""

    target_class = JWTAuthentication
