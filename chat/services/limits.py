"""Per-user rate and quota limits on sending messages, from the user's plan."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Plan, User
from chat.errors import MessageRateLimited, TokenQuotaExceeded


def message_rate_check(*, user: User, plan: Plan) -> None:
    """A fixed one-minute window counted in the cache (shared by all processes with Redis)."""
    limit = plan.messages_per_minute
    if limit is None:
        return
    now = time.time()
    window = int(now // 60)
    key = f"chat-rate:{user.pk}:{window}"
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first message (or a parallel one that just added it)
        count = 1 if cache.add(key, 1, timeout=70) else cache.incr(key)
    if count > limit:
        retry_after = max(1, int(60 - (now - window * 60)))
        raise MessageRateLimited(
            f"Your plan allows {limit} messages a minute. Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )


def month_start() -> timezone.datetime:
    return timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tokens_used_this_month(*, user: User) -> int:
    from analytics.models import Run

    total = Run.objects.filter(user=user, created_at__gte=month_start()).aggregate(
        total=Sum(F("input_tokens") + F("output_tokens"))
    )["total"]
    return int(total or 0)


def token_quota_check(*, user: User, plan: Plan) -> None:
    quota = plan.monthly_token_quota
    if quota is None:
        return
    if tokens_used_this_month(user=user) >= quota:
        raise TokenQuotaExceeded(
            f"You have used this month's {quota:,} tokens. The quota renews on the first of next month."
        )
