"""API keys of the OpenAI-compatible API: create, revoke, authenticate, rate-limit.

A key's secret is `bc_<prefix>_<secret>`: the prefix (12 hex characters, not secret) finds
the row, and the whole secret's SHA-256 is compared in constant time with the stored one.
The secret has 256 bits of randomness, so a plain hash is enough (no password stretching:
it is never a human's password). It is returned once, by `api_key_create`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_get_for_auth, user_plan
from bytchat.cached import cached_read, forget
from bytchat.errors import InvalidInput, NotFound
from chat.errors import ApiKeyRateLimited, BotNotInKeyScope, InvalidApiKey
from chat.models import ApiKey

SECRET_PREFIX = "bc_"
PREFIX_LENGTH = 12
NAME_MAX_LENGTH = 100
# The highest requests-per-minute cap a key may have when the plan sets none.
MAX_REQUESTS_PER_MINUTE = 1_000_000
# `last_used_at` is written at most this often per key.
TOUCH_INTERVAL = timedelta(seconds=60)
# Keys are read through the cache (`bytchat.cached`) by their prefix; the services here
# forget a key whenever they write it.
CACHED_KEYS = "api-key"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse(secret: str) -> str | None:
    """The prefix of a well-formed secret, else None."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    body = secret[len(SECRET_PREFIX) :]
    prefix, separator, rest = (
        body[:PREFIX_LENGTH],
        body[PREFIX_LENGTH : PREFIX_LENGTH + 1],
        body[PREFIX_LENGTH + 1 :],
    )
    if separator != "_" or not rest or len(prefix) != PREFIX_LENGTH:
        return None
    try:
        int(prefix, 16)
    except ValueError:
        return None
    return prefix


def _usable_bots(*, user: User, bot_ids: list[Any]) -> list:
    from bots import selectors as bot_selectors

    bots = []
    for bot_id in dict.fromkeys(str(bot_id) for bot_id in bot_ids):
        try:
            bots.append(bot_selectors.bot_get_visible(user=user, bot_id=bot_id))
        except NotFound as exc:
            raise InvalidInput(
                "A bot of the list does not exist or you may not use it.",
                fields={"bots": [f"Bot {bot_id} does not exist or you may not use it."]},
            ) from exc
    return bots


def api_key_create(
    *,
    user: User,
    name: str,
    bot_ids: list[Any] | None = None,
    requests_per_minute: int | None = None,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """A new key for `user`. `bot_ids` None: every bot the user may chat with; a list: only
    those (each must be usable by the user). `requests_per_minute` must fit within the
    plan's own messages_per_minute."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(
            "The name is required.", fields={"name": [f"Give a name of 1 to {NAME_MAX_LENGTH} characters."]}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry is in the past.", fields={"expires_at": ["Give a future date."]})
    if requests_per_minute is not None:
        plan_limit = user_plan(user).messages_per_minute
        if plan_limit is None:
            plan_limit = MAX_REQUESTS_PER_MINUTE
        if requests_per_minute < 1 or (plan_limit is not None and requests_per_minute > plan_limit):
            allowed = f"1 to {plan_limit}"
            raise InvalidInput(
                "The requests-per-minute cap is outside your plan's limits.",
                fields={"requests_per_minute": [f"Your plan allows {allowed}."]},
            )
    if bot_ids is not None and not bot_ids:
        raise InvalidInput(
            "List at least one bot, or none for all.", fields={"bots": ["List at least one bot."]}
        )
    bots = _usable_bots(user=user, bot_ids=bot_ids) if bot_ids is not None else []
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = f"{SECRET_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=_hash(secret),
            all_bots=bot_ids is None,
            requests_per_minute=requests_per_minute,
            expires_at=expires_at,
        )
        if bots:
            key.bots.set(bots)
    return CreatedKey(key=key, secret=secret)


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key (the caller found it with `api_key_get`): it stops working at once.
    Revoking twice keeps the first time."""
    if key.revoked_at is None:
        now = timezone.now()
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
        forget(CACHED_KEYS, key.prefix)
        key.revoked_at = now
    return key


def api_key_authenticate(*, secret: str) -> ApiKey:
    """The live key of `secret`, with its user and plan; InvalidApiKey otherwise (unknown,
    malformed, revoked, expired, or its user suspended or gone). The key and its user are
    read through the cache, which the services that write them keep current."""
    prefix = _parse(secret or "")
    key = _key_with_prefix(prefix) if prefix else None
    # Compared even without a row, so that timing tells nothing about which prefixes exist.
    stored = key.secret_hash if key is not None else "0" * 64
    if not hmac.compare_digest(stored, _hash(secret or "")) or key is None:
        raise InvalidApiKey()
    now = timezone.now()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidApiKey()
    user = user_get_for_auth(user_id=key.user_id)
    if user is None:
        raise InvalidApiKey()
    if not user.is_active:
        raise InvalidApiKey("The API key's account is suspended.")
    key.user = user
    api_key_touch(key=key, now=now)
    return key


def _key_with_prefix(prefix: str) -> ApiKey | None:
    return cached_read(
        name=CACHED_KEYS, key=prefix, load=lambda: ApiKey.objects.filter(prefix=prefix).first()
    )


def api_key_touch(*, key: ApiKey, now: datetime | None = None) -> None:
    """Record the key's use: one conditional write a minute at most, none in between."""
    now = now or timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_INTERVAL)
    ).update(last_used_at=now)
    # Whether this request or a parallel one wrote it, the cached key's `last_used_at` is
    # old: the next request reads the key again, and writes nothing for a minute.
    forget(CACHED_KEYS, key.prefix)
    key.last_used_at = now


def api_key_rate_check(*, key: ApiKey) -> None:
    """The key's own requests-per-minute cap: a fixed one-minute window counted with one
    atomic cache increment (Redis INCR in production, shared by every process), so
    parallel requests each get a count of their own and cannot pass the cap together.
    The plan's messages_per_minute is checked by the engine on top of it."""
    limit = key.requests_per_minute
    if limit is None:
        return
    now = time.time()
    window = int(now // 60)
    cache_key = f"api-key-rate:{key.pk}:{window}"
    try:
        count = cache.incr(cache_key)
    except ValueError:  # the window's first request (or a parallel one that just added it)
        count = 1 if cache.add(cache_key, 1, timeout=70) else cache.incr(cache_key)
    if count > limit:
        retry_after = max(1, math.ceil(60 - (now - window * 60)))
        raise ApiKeyRateLimited(
            f"This API key allows {limit} requests a minute. Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )


def api_key_bot_check(*, key: ApiKey, bot_id: Any) -> None:
    """BotNotInKeyScope unless the key may use `bot_id` (the user's visibility of the bot is
    checked by the engine, which answers NotFound)."""
    if key.all_bots:
        return
    if not key.bots.filter(pk=_uuid_or_none(bot_id)).exists():
        raise BotNotInKeyScope()


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
