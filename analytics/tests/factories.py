"""Builders for analytics tests: exchanges written the way the chat engine writes them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from chat.models import Conversation, Feedback, Message, MessageRole, MessageStatus, Run, RunStatus

_sequence = itertools.count(1)


def at_days_ago(days: int, *, hour: int = 12, minute: int = 0) -> datetime:
    """A moment `days` whole days before today, at a fixed time of day."""
    today = timezone.localdate()
    moment = datetime.combine(today - timedelta(days=days), datetime.min.time())
    return timezone.make_aware(moment) + timedelta(hours=hour, minutes=minute)


# The most minutes ago that tests ask `earlier_today` for.
_EARLIEST_TODAY = 120


def earlier_today(*, minutes: int = 1) -> datetime:
    """`minutes` ago, or, in the first two hours of the day, as far back in proportion
    since midnight: always today and already past, and a larger `minutes` is always
    earlier (at 00:05, 30 and 10 minutes ago are not both midnight)."""
    assert minutes <= _EARLIEST_TODAY
    now = timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
    elapsed = now - midnight
    if elapsed > timedelta(minutes=_EARLIEST_TODAY + 1):
        return now - timedelta(minutes=minutes)
    return now - elapsed * minutes / (_EARLIEST_TODAY + 1)


def make_conversation(*, user, bot, at: datetime | None = None, title: str = "") -> Conversation:
    conversation = Conversation.objects.create(user=user, bot=bot, title=title or f"Chat {next(_sequence)}")
    if at is not None:
        Conversation.objects.filter(pk=conversation.pk).update(created_at=at)
        conversation.created_at = at
    return conversation


def make_exchange(
    *,
    conversation: Conversation,
    at: datetime | None = None,
    status: str = RunStatus.SUCCESS,
    latency_ms: int | None = 1000,
    ttft_ms: int | None = 200,
    input_tokens: int = 100,
    output_tokens: int = 50,
    question: str = "What does the handbook say?",
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    error_code: str = "",
    failed_attempts: list | None = None,
) -> Run:
    """A question, its answer (none when the run failed) and the run, at `at`, with the
    conversation's counters moved as the engine moves them."""
    at = at or earlier_today()
    question_message = Message.objects.create(
        conversation=conversation, role=MessageRole.USER, content=question
    )
    answer = None
    if status != RunStatus.ERROR:
        answer = Message.objects.create(
            conversation=conversation,
            role=MessageRole.ASSISTANT,
            content="An answer [1].",
            status=MessageStatus.COMPLETE if status == RunStatus.SUCCESS else MessageStatus.INCOMPLETE,
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
    run = Run.objects.create(
        user=conversation.user,
        bot=conversation.bot,
        conversation=conversation,
        message=answer,
        input_text=question,
        task_type="general",
        provider=provider,
        model=model,
        input_tokens=input_tokens if answer else 0,
        output_tokens=output_tokens if answer else 0,
        ttft_ms=ttft_ms if answer else None,
        latency_ms=latency_ms,
        status=status,
        error_code=error_code or ("PROVIDER_ERROR" if status == RunStatus.ERROR else ""),
        failed_attempts=failed_attempts or [],
    )
    ids = [question_message.pk] + ([answer.pk] if answer else [])
    Message.objects.filter(pk__in=ids).update(created_at=at)
    Run.objects.filter(pk=run.pk).update(created_at=at)
    Conversation.objects.filter(pk=conversation.pk).update(
        message_count=F("message_count") + len(ids), last_message_at=at
    )
    run.refresh_from_db()
    return run


def rate(run: Run, rating: str, comment: str = "", *, at: datetime | None = None) -> Feedback:
    feedback = Feedback.objects.create(message=run.message, user=run.user, rating=rating, comment=comment)
    if at is not None:
        Feedback.objects.filter(pk=feedback.pk).update(created_at=at)
        feedback.created_at = at
    return feedback


def populate(
    *, users: list, bots: list, days: int, conversations_per_day: int = 1, runs_per_conversation: int = 2
):
    """Activity spread over the last `days` days (today included) across users and bots:
    some errors, varied latencies, ratings with comments. Returns the runs."""
    runs = []
    for day in range(days):
        for number in range(conversations_per_day):
            user = users[(day + number) % len(users)]
            bot = bots[(day * 3 + number) % len(bots)]
            at = at_days_ago(day, hour=9 + number % 10) if day else earlier_today(minutes=number + 1)
            conversation = make_conversation(user=user, bot=bot, at=at)
            for turn in range(runs_per_conversation):
                index = len(runs)
                run = make_exchange(
                    conversation=conversation,
                    at=at,
                    status=RunStatus.ERROR if index % 5 == 4 else RunStatus.SUCCESS,
                    latency_ms=200 + (index * 137) % 3000,
                    ttft_ms=50 + (index * 31) % 400,
                    input_tokens=100 + index,
                    output_tokens=40 + turn,
                )
                if run.message_id and index % 2 == 0:
                    rating = "thumbs_down" if index % 4 == 0 else "thumbs_up"
                    comment = "La respuesta fue incorrecta y lenta" if rating == "thumbs_down" else ""
                    rate(run, rating, comment, at=at)
                runs.append(run)
    return runs
