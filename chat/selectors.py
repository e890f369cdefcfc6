from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

from accounts.models import User
from bytchat.errors import NotFound
from chat.models import Citation, Conversation, Feedback, Message, MessageRole, Rating, Run, RunStatus

SUGGESTION_LIMIT = 6


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


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages with their citations and `rating`: the conversation
    owner's feedback on each answer (None where there is none)."""
    rating = Feedback.objects.filter(message=OuterRef("pk"), user_id=conversation.user_id).values("rating")[
        :1
    ]
    return (
        Message.objects.filter(conversation=conversation)
        .annotate(rating=Subquery(rating))
        .prefetch_related(Prefetch("citations", queryset=Citation.objects.order_by("index")))
    )


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
