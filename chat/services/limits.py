"""Per-user rate and quota limits on sending messages, from the user's plan."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import Plan, User
from bytchat.counters import count_hit
from bytchat.db import Statement, update_statement
from chat.errors import MessageRateLimited, TokenQuotaExceeded
from chat.models import Run, TokenReservation, TokenUsage


def message_rate_check(*, user: User, plan: Plan) -> None:
    """A fixed one-minute window counted in the cache (shared by all processes with Redis)."""
    limit = plan.messages_per_minute
    if limit is None:
        return
    now = time.time()
    window = int(now // 60)
    count = count_hit(f"chat-rate:{user.pk}:{window}", timeout=70)
    if count > limit:
        retry_after = max(1, int(60 - (now - window * 60)))
        raise MessageRateLimited(
            f"Your plan allows {limit} messages a minute. Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of the month (UTC, the project's TIME_ZONE) that quotas count in."""
    return (now or timezone.now()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def seconds_until_next_month(now: datetime | None = None) -> int:
    now = now or timezone.now()
    start = month_start(now)
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return max(1, math.ceil((following - now).total_seconds()))


def tokens_used_this_month(*, user: User) -> int:
    """Tokens of the user's stored answers this month, from the runs."""
    total = Run.objects.filter(user=user, created_at__gte=month_start()).aggregate(
        total=Sum(F("input_tokens") + F("output_tokens"))
    )["total"]
    return int(total or 0)


@dataclass(frozen=True)
class TokenHold:
    """What a turn holds on the quota until its answer is stored."""

    usage_id: int
    reservation_id: uuid.UUID
    tokens: int


def _usage_row(*, user: User, month: date) -> int:
    """The month's usage row, created on first use with the runs already stored this month
    (the month's first turn, or the first since quotas were counted this way)."""
    # A callable: the runs are summed only when the row is created, not on every turn.
    usage, _ = TokenUsage.objects.get_or_create(
        user=user, month=month, defaults={"used": lambda: tokens_used_this_month(user=user)}
    )
    return usage.pk


def _reservations_expire(*, usage_id: int) -> None:
    """Give back what answers that never settled (a process that died) still hold."""
    for reservation_id, tokens in TokenReservation.objects.filter(
        usage_id=usage_id, expires_at__lt=timezone.now()
    ).values_list("pk", "tokens"):
        if TokenReservation.objects.filter(pk=reservation_id).delete()[0]:
            TokenUsage.objects.filter(pk=usage_id).update(reserved=F("reserved") - tokens)


# The admitting UPDATE and the reservation's INSERT in one statement. The UPDATE in the
# WITH clause re-checks its WHERE on a row a parallel turn has just changed, as on its
# own. `_HELD` reads the usage row's id (none: the month has no row yet, or the quota is
# reached); `_HELD_OR_FAIL` fails instead (division by zero), so that the statements sent
# with it (`token_quota_reserve_statement`) are not applied either.
_RESERVE_SQL = """
    WITH admitted AS (
        UPDATE chat_tokenusage SET reserved = reserved + %s
        WHERE user_id = %s AND month = %s AND used < %s - reserved
        RETURNING id
    ), held AS (
        INSERT INTO chat_tokenreservation (id, usage_id, tokens, expires_at)
        SELECT %s, id, %s, %s FROM admitted
        RETURNING usage_id
    )
"""
_HELD = "SELECT usage_id FROM held"
_HELD_OR_FAIL = "SELECT (SELECT usage_id FROM held), 1 / (SELECT count(*) FROM held)::integer"


@dataclass(frozen=True)
class _Reservation:
    tokens: int
    user_id: Any
    month: date
    quota: int
    reservation_id: uuid.UUID
    expires_at: datetime

    @classmethod
    def of(cls, *, user: User, quota: int, tokens: int) -> _Reservation:
        expires_at = timezone.now() + timedelta(seconds=settings.TOKEN_RESERVATION_TTL_SECONDS)
        return cls(tokens, user.pk, month_start().date(), quota, uuid.uuid4(), expires_at)

    def params(self) -> list[Any]:  # in the order of `_RESERVE_SQL`
        return [
            self.tokens,
            self.user_id,
            self.month,
            self.quota,
            self.reservation_id,
            self.tokens,
            self.expires_at,
        ]

    def hold(self, usage_id: int) -> TokenHold:
        return TokenHold(usage_id=usage_id, reservation_id=self.reservation_id, tokens=self.tokens)


def token_quota_reserve_statement(
    *, user: User, plan: Plan, tokens: int
) -> tuple[Statement, _Reservation] | None:
    """`token_quota_reserve` on PostgreSQL as one statement, for a caller that sends it
    with other writes (`bytchat.db.execute_together`); its one row is the usage row's id,
    for `_Reservation.hold`. It fails (DataError) where `token_quota_reserve` would take
    the long way: the month's first turn, a quota reached or held by answers that died.
    None: the plan has no quota."""
    if plan.monthly_token_quota is None:
        return None
    reservation = _Reservation.of(user=user, quota=plan.monthly_token_quota, tokens=tokens)
    return (_RESERVE_SQL + _HELD_OR_FAIL, reservation.params()), reservation


def token_quota_check_statement(*, user: User, plan: Plan, tokens: int) -> Statement | None:
    """Whether `token_quota_reserve_statement` would admit the turn now, as a read
    (PostgreSQL): one row if so, none if not (the quota is reached, or the month has no
    usage row yet). None: the plan has no quota. Only the reservation itself decides."""
    if plan.monthly_token_quota is None:
        return None
    return (
        "SELECT 1 FROM chat_tokenusage WHERE user_id = %s AND month = %s AND used < %s - reserved",
        [user.pk, month_start().date(), plan.monthly_token_quota],
    )


def _reserve_in_one_statement(reservation: _Reservation) -> int | None:
    """PostgreSQL: the usage row's id, or None for the long way (see `_RESERVE_SQL`)."""
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_SQL + _HELD, reservation.params())
        row = cursor.fetchone()
    return row[0] if row else None


def token_quota_reserve(*, user: User, plan: Plan, tokens: int) -> TokenHold | None:
    """Admit a turn under the monthly token quota, holding `tokens` (an estimate of the
    prompt and the answer) until `token_usage_settle` replaces them with what it used.

    One conditional UPDATE admits: PostgreSQL re-checks its WHERE on a row that a parallel
    turn has just changed, so while answers run their estimates count, and parallel turns
    pass the quota by at most the answer that was admitted last. Call inside a
    transaction; the hold is dropped with it if the turn is refused for another reason."""
    quota = plan.monthly_token_quota
    if quota is None:
        return None
    reservation = _Reservation.of(user=user, quota=quota, tokens=tokens)
    month, expires_at, reservation_id = reservation.month, reservation.expires_at, reservation.reservation_id
    if connection.vendor == "postgresql":
        usage_id = _reserve_in_one_statement(reservation)
        if usage_id is not None:
            return reservation.hold(usage_id)
    # The month's first turn, a quota reached (or held by answers that died), SQLite.
    usage_id = _usage_row(user=user, month=month)
    admit = TokenUsage.objects.filter(pk=usage_id, used__lt=quota - F("reserved"))  # used + reserved < quota
    admitted = admit.update(reserved=F("reserved") + tokens)
    if not admitted:
        _reservations_expire(usage_id=usage_id)
        admitted = admit.update(reserved=F("reserved") + tokens)
    if admitted:
        TokenReservation.objects.create(
            id=reservation_id, usage_id=usage_id, tokens=tokens, expires_at=expires_at
        )
        return reservation.hold(usage_id)
    retry_after = seconds_until_next_month()
    raise TokenQuotaExceeded(
        f"You have used this month's {quota:,} tokens. The quota renews on the first of next month.",
        retry_after=retry_after,
    )


# One statement: the DELETE says what it gave back, the UPDATE takes it.
_SETTLE_SQL = """
    WITH released AS (
        DELETE FROM chat_tokenreservation WHERE id = %s RETURNING tokens
    )
    UPDATE chat_tokenusage
    SET used = used + %s, reserved = reserved - COALESCE((SELECT tokens FROM released), 0)
    WHERE id = %s
"""


def token_usage_settle_statement(*, user_id: Any, hold: TokenHold | None, tokens: int) -> Statement | None:
    """`token_usage_settle` on PostgreSQL as one statement, for a caller that sends it with
    its other writes (`bytchat.db.execute_together`); None: nothing to count."""
    if hold is not None:
        return _SETTLE_SQL, [hold.reservation_id, tokens, hold.usage_id]
    if not tokens:
        return None
    usage = TokenUsage.objects.filter(user_id=user_id, month=month_start().date())
    return update_statement(usage, used=F("used") + tokens)


def token_usage_settle(*, user_id: Any, hold: TokenHold | None, tokens: int) -> None:
    """Count an answer's tokens and give back its hold, inside the transaction that stores
    its run. Settling twice gives back nothing twice: the reservation row is gone."""
    if hold is not None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(*token_usage_settle_statement(user_id=user_id, hold=hold, tokens=tokens))
        return
    released = 0
    if hold is not None and TokenReservation.objects.filter(pk=hold.reservation_id).delete()[0]:
        released = hold.tokens
    usage = (
        TokenUsage.objects.filter(pk=hold.usage_id)
        if hold is not None
        else TokenUsage.objects.filter(user_id=user_id, month=month_start().date())
    )
    if tokens or released:
        usage.update(used=F("used") + tokens, reserved=F("reserved") - released)
