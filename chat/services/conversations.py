"""Conversations and the plan limits on them."""

from __future__ import annotations

import enum
import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import Plan, User
from accounts.selectors import user_plan
from accounts.services import user_limits_lock
from bytchat.cached import forget
from bytchat.db import Statement
from bytchat.errors import Conflict, InvalidInput, NotFound
from chat.errors import (
    ConversationArchived,
    ConversationConfirmationRequired,
    ConversationLimitReached,
    MessageLimitReached,
)
from chat.models import Conversation, Message, MessageStatus
from chat.selectors import CONVERSATION_LISTS, conversation_get

TITLE_MAX = 200
# A turn is two messages: the question and the answer it reserves a place for. Counted
# together when the question is stored, so that parallel turns cannot overshoot the limit;
# an answer that is never stored gives its place back.
TURN_MESSAGES = 2


def conversation_lists_forget(*, user_id) -> None:
    """Call next to every write to a user's conversations that their list shows (a new,
    renamed, archived or deleted one, a turn's counts and times): the first pages of
    the list are cached (`selectors.conversation_list_depends_on`), and the change must
    show from the next request in every process."""
    forget(CONVERSATION_LISTS, str(user_id))


class AtLimit(enum.Enum):
    """What creating a conversation does at the plan's per-bot limit; each API surface
    picks the one its clients understand, and no surface decides anything else. Only
    active (non-archived) conversations count, so archiving one always frees a place.
    The errors say which limit was reached (`limit` in their extra details)."""

    # Refuse until the client confirms (`confirm_delete`), then delete the oldest active
    # conversations: the native API, the panel, MagicAI.
    CONFIRM_THEN_DELETE = "confirm_then_delete"
    # Delete the oldest active conversations with the bot, unasked: Bytchat v1, where
    # every chat is a new conversation and the client has no way to confirm.
    DELETE_OLDEST = "delete_oldest"
    # Refuse with CONVERSATION_LIMIT; the user archives or deletes one: Champions.
    REFUSE = "refuse"
    # Archive the oldest active conversations with the bot: ESCOMBOT, whose clients can
    # neither delete nor archive.
    ARCHIVE_OLDEST = "archive_oldest"


def title_from_message(text: str) -> str:
    """A conversation's first message, on one line, cut at a word near 60 characters."""
    line = " ".join(text.split())
    if len(line) <= 60:
        return line or "New conversation"
    cut = line[:60].rsplit(" ", 1)[0] or line[:60]
    return cut + "…"


def conversation_create(
    *,
    user: User,
    bot,
    at_limit: AtLimit,
    title: str | None = None,
    confirm_delete: bool = False,
) -> Conversation:
    """Create a conversation under the plan's limits; `at_limit` is the caller's policy at
    the per-bot limit, `confirm_delete` the client's consent where that policy asks for it."""
    with transaction.atomic():
        return conversation_create_in_transaction(
            user=user,
            plan=user_plan(user),
            bot=bot,
            title=title,
            confirm_delete=confirm_delete,
            at_limit=at_limit,
        )


def conversation_create_in_transaction(
    *,
    user: User,
    plan: Plan,
    bot,
    at_limit: AtLimit,
    title: str | None = None,
    confirm_delete: bool = False,
    first_turn: bool = False,
    metadata_filter: dict | None = None,
) -> Conversation:
    """`conversation_create` for a caller that holds a transaction (a chat turn). With
    `first_turn` the new conversation is counted with its first question and answer."""
    per_bot_limit = plan.max_conversations_per_bot
    active_limit = plan.max_active_conversations
    if first_turn:
        _check_turn_fits(plan, message_count=0)
    if per_bot_limit is not None or active_limit is not None:
        user_limits_lock(user=user)
        counts = Conversation.objects.filter(user=user, archived=False).aggregate(
            per_bot=Count("pk", filter=Q(bot=bot)), active=Count("pk")
        )
        if per_bot_limit is not None and counts["per_bot"] >= per_bot_limit:
            # As many as needed: a plan may have been lowered since.
            surplus = counts["per_bot"] - per_bot_limit + 1
            freed = _make_room(
                user=user,
                bot=bot,
                limit=per_bot_limit,
                count=surplus,
                confirm_delete=confirm_delete,
                at_limit=at_limit,
            )
            counts["active"] -= freed
        if active_limit is not None and counts["active"] >= active_limit:
            if at_limit is not AtLimit.ARCHIVE_OLDEST:
                raise ConversationLimitReached(
                    f"You have {active_limit} active conversations, the most your plan allows. "
                    "Archive or delete one first.",
                    extra={"limit": active_limit},
                )
            # Only this bot's conversations: another API's conversations are not ours to archive.
            surplus = counts["active"] - active_limit + 1
            if _archive_oldest(user=user, bot=bot, count=surplus) < surplus:
                raise ConversationLimitReached(
                    f"You have {active_limit} active conversations, the most your plan allows.",
                    extra={"limit": active_limit},
                )
    conversation = Conversation.objects.create(
        user=user,
        bot=bot,
        title=(title or "New conversation")[:TITLE_MAX],
        message_count=TURN_MESSAGES if first_turn else 0,
        last_message_at=timezone.now() if first_turn else None,
        metadata_filter=metadata_filter,
    )
    # With the older ones it may have archived or deleted to make room.
    conversation_lists_forget(user_id=user.pk)
    return conversation


def conversation_filter_use(*, conversation_id, sent: dict | None) -> dict | None:
    """The knowledge filter of a turn on an existing conversation, inside the caller's
    transaction: the one the turn sent (validated by the caller), which the conversation
    keeps for its follow-ups, else the one it kept. None: it has none."""
    if sent is not None:
        Conversation.objects.filter(pk=conversation_id).update(metadata_filter=sent)
        return sent
    return Conversation.objects.filter(pk=conversation_id).values_list("metadata_filter", flat=True).first()


def _oldest_active(*, user: User, bot):
    return Conversation.objects.filter(user=user, bot=bot, archived=False).order_by("created_at", "id")


def _make_room(*, user: User, bot, limit: int, count: int, confirm_delete: bool, at_limit: AtLimit) -> int:
    """Free `count` places under the per-bot limit as `at_limit` says; how many were freed."""
    if at_limit is AtLimit.REFUSE:
        raise ConversationLimitReached(
            f"You have {limit} active conversations with this bot, the most your plan allows. "
            "Archive or delete one first.",
            extra={"limit": limit},
        )
    if at_limit is AtLimit.ARCHIVE_OLDEST:
        return _archive_oldest(user=user, bot=bot, count=count)
    if at_limit is AtLimit.CONFIRM_THEN_DELETE and not confirm_delete:
        oldest = _oldest_active(user=user, bot=bot).first()
        raise ConversationConfirmationRequired(
            f"You have reached the limit of {limit} conversations for this bot. "
            f"Creating a new one deletes '{oldest.title}'. Send confirm_delete: true to go ahead.",
            extra={
                "requires_confirmation": True,
                "limit": limit,
                "oldest_conversation": {"id": str(oldest.pk), "title": oldest.title},
            },
        )
    # Locked before Django collects what the delete cascades to: an answer being stored in
    # one of them (engine._store_answer locks its conversation too) either lands before,
    # and is deleted with it, or finds its conversation gone.
    evict = list(_oldest_active(user=user, bot=bot).select_for_update().values_list("pk", flat=True)[:count])
    Conversation.objects.filter(pk__in=evict).delete()
    return len(evict)


def _archive_oldest(*, user: User, bot, count: int) -> int:
    oldest = list(_oldest_active(user=user, bot=bot).values_list("pk", flat=True)[:count])
    now = timezone.now()
    return Conversation.objects.filter(pk__in=oldest, archived=False).update(
        archived=True, archived_at=now, updated_at=now
    )


def conversation_reserve_turn(
    *, user: User, plan: Plan, conversation_id, bot, messages: int = TURN_MESSAGES
) -> None:
    """Count a new question and its answer (`messages`: 1 for a regenerated answer) on the
    user's conversation with `bot`, inside the caller's transaction, or say why it cannot
    take them.

    One conditional UPDATE: PostgreSQL re-checks its WHERE on a row that a parallel turn
    has just changed, so parallel turns cannot overshoot the message limit."""
    try:
        turn = Conversation.objects.filter(pk=conversation_id, user=user, bot=bot, archived=False)
    except (ValidationError, ValueError):  # not a UUID
        raise NotFound("Conversation not found.") from None
    limit = plan.max_messages_per_conversation
    if limit is not None:
        turn = turn.filter(message_count__lte=limit - messages)
    for _ in range(2):
        try:
            reserved = turn.update(
                message_count=F("message_count") + messages, last_message_at=timezone.now()
            )
        except (ValidationError, ValueError):  # not a UUID
            raise NotFound("Conversation not found.") from None
        if reserved:
            conversation_lists_forget(user_id=user.pk)
            return
        # Why not: the rare path, so one more read.
        conversation = conversation_get(user=user, conversation_id=conversation_id)
        if conversation.bot_id != bot.pk:
            raise InvalidInput(fields={"conversation": ["This conversation belongs to another bot."]})
        if conversation.archived:
            raise ConversationArchived()
        _check_turn_fits(plan, message_count=conversation.message_count, messages=messages)
        # Nothing stops it now: the conversation changed between the two reads (archived
        # and restored, say). Try once more.
    raise Conflict("The conversation changed while your message was being stored. Send it again.")


_NO_LIMIT = 2**31 - 1  # the largest message_count a PositiveIntegerField holds
# `conversation_turn_start_statement`: the reservation, the knowledge filter and the
# recent messages in one statement, which fails (division by zero: `guard` is always read)
# when the conversation cannot take the turn, so that the statements sent with it are not
# applied either.
_TURN_START_SQL = """
    WITH reserved AS (
        UPDATE chat_conversation
        SET message_count = message_count + %s,
            last_message_at = %s,
            metadata_filter = CASE WHEN %s THEN %s ELSE metadata_filter END
        WHERE id = %s AND user_id = %s AND bot_id = %s AND NOT archived AND message_count <= %s
        RETURNING id, metadata_filter
    )
    SELECT guard.one, reserved.metadata_filter, recent.role, recent.content
    FROM (SELECT 1 / (SELECT count(*) FROM reserved)::integer) AS guard (one)
    LEFT JOIN (
        reserved LEFT JOIN LATERAL (
            SELECT role, content, created_at, id FROM chat_message
            WHERE conversation_id = reserved.id AND status <> %s AND replaced_by_id IS NULL
            ORDER BY created_at DESC, id DESC
            LIMIT %s
        ) AS recent ON TRUE
    ) ON TRUE
    ORDER BY recent.created_at, recent.id
"""


def _most_messages_before_a_turn(plan: Plan) -> int:
    limit = plan.max_messages_per_conversation
    return (limit - TURN_MESSAGES) if limit is not None else _NO_LIMIT


def conversation_turn_start_statement(
    *, user: User, plan: Plan, conversation_id, bot, sent_filter: dict | None, recent: int
) -> Statement:
    """`conversation_turn_start` on PostgreSQL as one statement, for a caller that sends it
    with other writes (`bytchat.db.execute_together`; read its rows with
    `conversation_turn_started`). It fails (DataError) when the turn does not fit, without
    saying why: the caller then takes the long way, which does. `conversation_id` must be a
    UUID."""
    from psycopg.types.json import Jsonb

    return _TURN_START_SQL, [
        TURN_MESSAGES,
        timezone.now(),
        sent_filter is not None,
        Jsonb(sent_filter),
        conversation_id,
        user.pk,
        bot.pk,
        _most_messages_before_a_turn(plan),
        MessageStatus.ERROR,
        recent,
    ]


# `_TURN_START_SQL` as a read: the conversation if the turn fits it now, with its recent
# messages, in the same shape of rows. Nothing is locked or changed.
_TURN_CHECK_SQL = """
    SELECT 1, fits.metadata_filter, recent.role, recent.content
    FROM (
        SELECT id, metadata_filter FROM chat_conversation
        WHERE id = %s AND user_id = %s AND bot_id = %s AND NOT archived AND message_count <= %s
    ) AS fits
    LEFT JOIN LATERAL (
        SELECT role, content, created_at, id FROM chat_message
        WHERE conversation_id = fits.id AND status <> %s AND replaced_by_id IS NULL
        ORDER BY created_at DESC, id DESC
        LIMIT %s
    ) AS recent ON TRUE
    ORDER BY recent.created_at, recent.id
"""


def conversation_turn_check_statement(
    *, user: User, plan: Plan, conversation_id, bot, recent: int
) -> Statement:
    """Whether `conversation_turn_start_statement` would fit now, as a read (PostgreSQL):
    no rows if not, else rows for `conversation_turn_started` (the stored filter). Only
    the statement itself decides: a parallel turn may take the place in between."""
    return _TURN_CHECK_SQL, [
        conversation_id,
        user.pk,
        bot.pk,
        _most_messages_before_a_turn(plan),
        MessageStatus.ERROR,
        recent,
    ]


def conversation_turn_started(rows: list[tuple]) -> tuple[dict | None, list[tuple[str, str]]]:
    """The knowledge filter and recent messages from `conversation_turn_start_statement`'s rows."""
    stored = rows[0][1]
    knowledge_filter = json.loads(stored) if isinstance(stored, str) else stored
    return knowledge_filter, [(role, content) for _, _, role, content in rows if role is not None]


def conversation_turn_start(
    *, user: User, plan: Plan, conversation_id, bot, sent_filter: dict | None, recent: int
) -> tuple[dict | None, list[tuple[str, str]]]:
    """A new question on an existing conversation, inside the caller's transaction:
    `conversation_reserve_turn` and `conversation_filter_use`, and the conversation's last
    `recent` messages before it (role, content; oldest first, as the model reads them)."""
    conversation_reserve_turn(user=user, plan=plan, conversation_id=conversation_id, bot=bot)
    knowledge_filter = conversation_filter_use(conversation_id=conversation_id, sent=sent_filter)
    earlier = (
        Message.objects.filter(conversation_id=conversation_id, replaced_by__isnull=True)
        .exclude(status=MessageStatus.ERROR)
        .order_by("-created_at", "-id")
        .values_list("role", "content")[:recent]
    )
    return knowledge_filter, list(reversed(earlier))


def _check_turn_fits(plan: Plan, *, message_count: int, messages: int = TURN_MESSAGES) -> None:
    limit = plan.max_messages_per_conversation
    if limit is not None and message_count + messages > limit:
        raise MessageLimitReached(
            f"This conversation has {message_count} messages, the most your plan allows. "
            "Start a new conversation."
        )


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title[:TITLE_MAX]
    conversation.save(update_fields=["title", "updated_at"])
    conversation_lists_forget(user_id=conversation.user_id)
    return conversation


def conversation_set_archived(*, conversation: Conversation, archived: bool) -> Conversation:
    if conversation.archived != archived:
        conversation.archived = archived
        conversation.archived_at = timezone.now() if archived else None
        conversation.save(update_fields=["archived", "archived_at", "updated_at"])
        conversation_lists_forget(user_id=conversation.user_id)
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()
    conversation_lists_forget(user_id=conversation.user_id)
