"""Regenerate an answer and edit a question: the two ways a turn gets a new version.

Both prepare an `engine.Turn` that `engine.chat_events` answers like any other, so every
streaming surface serves them with its usual code. Limits apply as to any message: the
message rate, the monthly token quota, and the conversation's message limit, which a
regenerated answer takes one place of and an edited question two (question and answer).

A regeneration's earlier answer is replaced once the new one is stored: if no model
answers, the earlier one stays. An edited question replaces its earlier version, the
answer and every later turn (the earlier branch) when it is stored, before the answer."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from accounts.selectors import user_plan
from bytchat.errors import InvalidInput, NotFound
from chat.errors import MessageReplaced
from chat.llm.base import ChatMessage, estimate_tokens
from chat.models import Message, MessageRole, MessageStatus
from chat.services import branches, conversations, engine, limits
from chat.services.routing import order_specs, task_type_resolve

REGENERATED_MESSAGES = 1


def _own_message(*, user: User, message_id: Any, role: str) -> Message:
    """The user's own message of `role`; NotFound for anyone else's or another role."""
    try:
        message = (
            Message.objects.select_related("conversation")
            .filter(pk=message_id, role=role, conversation__user=user)
            .first()
        )
    except (ValidationError, ValueError):  # not a UUID
        message = None
    if message is None:
        raise NotFound("Message not found.")
    return message


def _refuse_replaced(message: Message) -> None:
    """Under the conversation's row lock: a message replaced meanwhile cannot be
    regenerated or edited again (its newer version can)."""
    if Message.objects.filter(pk=message.pk, replaced_by__isnull=False).exists():
        raise MessageReplaced()


def _history_until(message: Message, *, inclusive: bool) -> list[ChatMessage]:
    """The last messages the conversation shows up to `message` (with it if `inclusive`),
    oldest first: the model's context for a new version."""
    same_time = Q(created_at=message.created_at) & (
        Q(pk__lte=message.pk) if inclusive else Q(pk__lt=message.pk)
    )
    shown = Message.objects.filter(conversation_id=message.conversation_id, replaced_by__isnull=True).filter(
        Q(created_at__lt=message.created_at) | same_time
    )
    recent = list(
        shown.exclude(status=MessageStatus.ERROR)
        .order_by("-created_at", "-id")
        .values_list("role", "content")[: engine.HISTORY_MESSAGES]
    )
    return [ChatMessage(role=role, content=content) for role, content in reversed(recent)]


def _configs_for(configs: list, model: str | None) -> list:
    if not model:
        return configs
    chosen = [config for config in configs if config.model_id == model]
    if not chosen:
        names = sorted({config.model_id for config in configs})
        hint = f" Choose one of: {', '.join(names)}." if names else ""
        raise InvalidInput(fields={"model": [f"This bot has no active model '{model[:200]}'.{hint}"]})
    return chosen


def chat_prepare_regenerate(
    *,
    user: User,
    message_id: Any,
    task_type: str | None = None,
    model: str | None = None,
    channel: str = "",
) -> engine.Turn:
    """A new answer to the question of answer `message_id`, optionally with another task
    type or another of the bot's models (`model`: a model id of its toolbox, then only its
    configs are tried). Once stored it replaces that answer and any later turns."""
    from bots import selectors as bot_selectors

    answer = _own_message(user=user, message_id=message_id, role=MessageRole.ASSISTANT)
    if answer.replaced_by_id is not None:
        raise MessageReplaced()
    question = (
        Message.objects.filter(
            conversation_id=answer.conversation_id,
            role=MessageRole.USER,
            replaced_by__isnull=True,
            created_at__lte=answer.created_at,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if question is None:  # an answer with no question before it: nothing to ask again
        raise MessageReplaced()
    chosen_task = task_type_resolve(task_type, message=question.content)
    bot, configs = bot_selectors.bot_get_for_chat(user=user, bot_id=answer.conversation.bot_id)
    configs = _configs_for(configs, model)
    plan = user_plan(user)
    limits.message_rate_check(user=user, plan=plan)
    with transaction.atomic():
        conversations.conversation_reserve_turn(
            user=user,
            plan=plan,
            conversation_id=answer.conversation_id,
            bot=bot,
            messages=REGENERATED_MESSAGES,
        )
        _refuse_replaced(answer)
        token_hold = limits.token_quota_reserve(
            user=user,
            plan=plan,
            tokens=estimate_tokens([bot.system_prompt, question.content])
            + settings.TOKEN_RESERVATION_ANSWER_TOKENS,
        )
    return _version_turn(
        user=user,
        bot=bot,
        configs=configs,
        conversation_id=answer.conversation_id,
        question_id=question.pk,
        question_text=question.content,
        task_type=chosen_task,
        history=_history_until(answer, inclusive=False),
        token_hold=token_hold,
        channel=channel,
        version_of_id=answer.version_root_id,
        replaces=answer,
    )


def chat_prepare_edit(
    *, user: User, message_id: Any, message: str, task_type: str | None = None, channel: str = ""
) -> engine.Turn:
    """Replace question `message_id` with `message` and answer it. The earlier question,
    its answer and every later turn stay stored as an earlier branch, not shown."""
    from bots import selectors as bot_selectors

    question_text = engine._clean_question(message)
    original = _own_message(user=user, message_id=message_id, role=MessageRole.USER)
    if original.replaced_by_id is not None:
        raise MessageReplaced()
    chosen_task = task_type_resolve(task_type, message=question_text)
    bot, configs = bot_selectors.bot_get_for_chat(user=user, bot_id=original.conversation.bot_id)
    plan = user_plan(user)
    limits.message_rate_check(user=user, plan=plan)
    with transaction.atomic():
        conversations.conversation_reserve_turn(
            user=user, plan=plan, conversation_id=original.conversation_id, bot=bot
        )
        _refuse_replaced(original)
        edited = Message.objects.create(
            conversation_id=original.conversation_id,
            role=MessageRole.USER,
            content=question_text,
            version_of_id=original.version_root_id,
        )
        branches.branch_replace(start=original, replacement=edited)
        token_hold = limits.token_quota_reserve(
            user=user,
            plan=plan,
            tokens=estimate_tokens([bot.system_prompt, question_text])
            + settings.TOKEN_RESERVATION_ANSWER_TOKENS,
        )
    return _version_turn(
        user=user,
        bot=bot,
        configs=configs,
        conversation_id=original.conversation_id,
        question_id=edited.pk,
        question_text=question_text,
        task_type=chosen_task,
        history=_history_until(edited, inclusive=True),
        token_hold=token_hold,
        channel=channel,
    )


def _version_turn(
    *,
    user: User,
    bot,
    configs,
    conversation_id: Any,
    question_id: Any,
    question_text: str,
    task_type: str,
    history: list,
    token_hold,
    channel: str,
    **version: Any,
) -> engine.Turn:
    """The turn that answers a regenerated or edited question: the bot's models for the
    task type, the conversation's knowledge filter; `version` says what it replaces."""
    return engine.Turn(
        user_id=user.pk,
        bot_id=bot.pk,
        conversation_id=conversation_id,
        user_message_id=question_id,
        assistant_message_id=uuid.uuid4(),
        question=question_text,
        task_type=task_type,
        language=bot.language,
        user_language=user.language,
        system_prompt=bot.system_prompt,
        specs=[engine._spec(config) for config in order_specs(configs, task_type)],
        history=history,
        bot=bot,
        token_hold=token_hold,
        knowledge_filter=_knowledge_filter(conversation_id, bot),
        search_knowledge=bot.has_knowledge,
        channel=channel,
        **version,
    )


def _knowledge_filter(conversation_id: Any, bot) -> dict | None:
    """A new version searches what the conversation's turns search: the filter it kept,
    else the bot's default."""
    kept = conversations.conversation_filter_use(conversation_id=conversation_id, sent=None)
    return bot.default_filter if kept is None else kept
