from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from bots.models import Bot
from bots.selectors import visible_bots_filter
from bytchat.cached import row
from bytchat.errors import NotFound
from chat.models import ApiKey, Citation, Conversation, Feedback, Message, MessageRole, Rating, Run, RunStatus

SUGGESTION_LIMIT = 6


# The first pages of a user's conversation list are cached (`bytchat.api.cached_pages`)
# under a generation of theirs, renewed by every write to one of their conversations that
# the list shows (`services.conversations.conversation_lists_forget`).
CONVERSATION_LISTS = "conversation-lists"
CONVERSATION_LIST_PAGES = "conversation-list-page"


def conversation_list_depends_on(*, user: User) -> tuple[str, ...]:
    return (row(CONVERSATION_LISTS, user.pk),)


def conversation_list(*, user: User, bot_id=None, archived: bool | None = None) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(user=user)
    if bot_id is not None:
        conversations = conversations.filter(bot_id=bot_id)
    if archived is not None:
        conversations = conversations.filter(archived=archived)
    return conversations


def conversation_get(*, user: User, conversation_id) -> Conversation:
    """The user's own conversation; NotFound for anyone else's."""
    conversation = Conversation.objects.select_related("bot").filter(pk=conversation_id, user=user).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def _with_feedback(messages: QuerySet[Message], *, user_id) -> QuerySet[Message]:
    """`rating` and `feedback_comment`: the conversation owner's feedback on each answer
    (None where there is none), and the citations in order."""
    feedback = Feedback.objects.filter(message=OuterRef("pk"), user_id=user_id)
    return messages.annotate(
        rating=Subquery(feedback.values("rating")[:1]),
        feedback_comment=Subquery(feedback.values("comment")[:1]),
    ).prefetch_related(Prefetch("citations", queryset=Citation.objects.order_by("index")))


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """The messages the conversation shows (none a newer version replaced) with their
    citations, the owner's feedback and `version_count`: how many versions their turn's
    message has (regenerated answers, edited questions), the shown one being the newest."""
    later_versions = (
        Message.objects.filter(version_of_id=Coalesce(OuterRef("version_of_id"), OuterRef("pk")))
        .order_by()
        .values("version_of_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    shown = Message.objects.filter(conversation=conversation, replaced_by__isnull=True).annotate(
        version_count=Coalesce(Subquery(later_versions), 0) + 1
    )
    return _with_feedback(shown, user_id=conversation.user_id)


VERSIONS_SHOWN = 100
BRANCH_MESSAGES_SHOWN = 20


def message_versions(*, user: User, message_id) -> list[Message]:
    """Every version of the user's message `message_id` (oldest first, the last
    VERSIONS_SHOWN), each with `version` (1-based), `is_current`, and `following`: for a
    replaced version, the messages shown after it until it was replaced (its answer and
    later turns, at most BRANCH_MESSAGES_SHOWN). NotFound for anyone else's message."""
    try:
        message = Message.objects.filter(pk=message_id, conversation__user=user).first()
    except (ValidationError, ValueError):  # not a UUID
        message = None
    if message is None:
        raise NotFound("Message not found.")
    root = message.version_root_id
    group = Message.objects.filter(Q(pk=root) | Q(version_of_id=root)).order_by("-created_at", "-id")
    versions = list(_with_feedback(group, user_id=user.pk)[:VERSIONS_SHOWN])[::-1]
    replacements = {version.replaced_by_id for version in versions if version.replaced_by_id}
    branch = _with_feedback(
        Message.objects.filter(replaced_by_id__in=replacements).exclude(Q(pk=root) | Q(version_of_id=root)),
        user_id=user.pk,
    ).order_by("created_at", "id")
    by_replacement: dict = {}
    for item in branch:
        by_replacement.setdefault(item.replaced_by_id, []).append(item)
    first_number = message_versions_count(root=root) - len(versions) + 1
    for number, version in enumerate(versions, start=first_number):
        version.version = number
        version.is_current = version.replaced_by_id is None
        following = by_replacement.get(version.replaced_by_id, []) if version.replaced_by_id else []
        after = [
            item
            for item in following
            if (item.created_at, str(item.pk)) > (version.created_at, str(version.pk))
        ]
        version.following = after[:BRANCH_MESSAGES_SHOWN]
    return versions


def message_versions_count(*, root) -> int:
    return Message.objects.filter(Q(pk=root) | Q(version_of_id=root)).count()


def conversation_export(*, user: User, conversation_id) -> tuple[Conversation, list[Message]]:
    """The user's conversation and the messages it shows, with citations and feedback."""
    conversation = conversation_get(user=user, conversation_id=conversation_id)
    return conversation, list(message_list(conversation=conversation).order_by("created_at", "id"))


def answer_get(*, user: User, message_id) -> Message:
    """The user's own answer (an assistant message) with its citations and rating;
    NotFound for anyone else's."""
    rating = Feedback.objects.filter(message=OuterRef("pk"), user_id=user.pk).values("rating")[:1]
    message = (
        Message.objects.filter(pk=message_id, role=MessageRole.ASSISTANT, conversation__user=user)
        .annotate(rating=Subquery(rating))
        .prefetch_related(Prefetch("citations", queryset=Citation.objects.order_by("index")))
        .first()
    )
    if message is None:
        raise NotFound("Answer not found.")
    return message


def _default_suggestions(*, bot, language: str) -> list[str]:
    from bots.selectors import bot_ready_document_names

    names = bot_ready_document_names(bot=bot, limit=SUGGESTION_LIMIT)
    if language == "en":
        texts = [f"What are the key points of {name}?" for name in names]
        texts.append(f"What can you help me with, {bot.name_for(language)}?")
    else:
        texts = [f"¿Cuáles son los puntos clave de {name}?" for name in names]
        texts.append(f"¿En qué me puedes ayudar, {bot.name_for(language)}?")
    return texts


def suggestion_list(*, user: User, bot, language: str) -> list[dict[str, str]]:
    """Questions worth asking this bot, best first: the user's own questions whose answers
    got a thumbs up, then their frequent successful questions, then defaults derived
    from the bot's documents. Only the user's own history is used, never another user's."""
    runs = Run.objects.filter(user=user, bot=bot, status=RunStatus.SUCCESS)
    liked = (
        runs.filter(message__feedback__rating=Rating.THUMBS_UP, message__feedback__user=user)
        .order_by("-created_at")
        .values_list("input_text", flat=True)[:SUGGESTION_LIMIT]
    )
    frequent = (
        runs.values("input_text")
        .annotate(times=Count("id"))
        .filter(times__gte=2)
        .order_by("-times", "input_text")
        .values_list("input_text", flat=True)[:SUGGESTION_LIMIT]
    )
    suggestions: list[dict[str, str]] = []
    seen: set[str] = set()
    for source, texts in (
        ("feedback", liked),
        ("frequent", frequent),
        ("default", _default_suggestions(bot=bot, language=language)),
    ):
        for text in texts:
            key = text.strip().lower()
            if key and key not in seen and len(suggestions) < SUGGESTION_LIMIT:
                seen.add(key)
                suggestions.append({"text": text.strip()[:300], "source": source})
    return suggestions


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    """The user's keys, revoked ones included (newest first), with their bot scope."""
    return ApiKey.objects.filter(user=user).prefetch_related("bots")


def api_key_get(*, user: User, key_id) -> ApiKey:
    """The user's own key; NotFound for anyone else's (or a malformed id)."""
    try:
        key = api_key_list(user=user).filter(pk=key_id).first()
    except (ValueError, ValidationError):
        key = None
    if key is None:
        raise NotFound("API key not found.")
    return key


def api_key_bots(*, key: ApiKey) -> list:
    """The bots a key may chat with now: its scope (or every bot) among those its user may
    see, oldest first."""
    bots = Bot.objects.filter(visible_bots_filter(key.user))
    if not key.all_bots:
        bots = bots.filter(pk__in=key.bots.values("pk"))
    return list(bots.order_by("created_at", "id"))
