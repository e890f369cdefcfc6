"""Reads, scoped to what the caller may see. Every view and service that takes a bot id
goes through `bot_get_visible` (or `bot_get_editable`), so that another user's private
bot is a 404 everywhere.

Who sees what:
- a user: their own active bots and the public ones;
- staff (manager or admin): also platform agents that are not public yet;
- nobody: another user's private bot.
Who changes what: the owner changes their bot; admins change platform agents.
Knowledge (documents, search): the owner, and staff for the bots they can see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects

from accounts.models import User
from accounts.selectors import ACCOUNT_DELETIONS, CACHED_USERS
from bots.errors import NotBotEditor
from bots.models import Bot, Category, Chunk, Document, DocumentStatus, ModelConfig, ModelEndpoint
from bytchat.cached import Read, cached_read, row
from bytchat.errors import NotFound

# The names of the cached rows (`bytchat.cached`) that the bot services forget.
CACHED_CHAT_BOTS = "chat-bot"
EVERY_MODEL_ENDPOINT = "model-endpoints"


def visible_bots_filter(user: User, prefix: str = "") -> Q:
    """Which active bots `user` may see, as a filter (`prefix` for related lookups)."""
    visible = Q(**{f"{prefix}owner": user}) | Q(**{f"{prefix}is_public": True})
    if user.is_manager_or_admin:
        visible |= Q(**{f"{prefix}owner__isnull": True})
    return Q(**{f"{prefix}is_active": True}) & visible


def bot_is_visible(*, user: User, bot: Bot) -> bool:
    """`visible_bots_filter` for one bot in memory (the chat turn's cached one)."""
    if not bot.is_active:
        return False
    return bot.owner_id == user.pk or bot.is_public or (bot.owner_id is None and user.is_manager_or_admin)


def bot_can_edit(*, user: User, bot: Bot) -> bool:
    if bot.owner_id is None:
        return user.is_admin
    return bot.owner_id == user.pk


def bot_can_read_knowledge(*, user: User, bot: Bot) -> bool:
    return bot.owner_id == user.pk or user.is_manager_or_admin


def bot_list(*, user: User, category_id: Any = None, model_configs: bool = True) -> QuerySet[Bot]:
    """The bots `user` may see, with their category and (`model_configs`) their model
    configs; without them, `bot_list_model_configs_for_editor` reads those a page shows."""
    bots = Bot.objects.filter(visible_bots_filter(user)).select_related("category")
    if model_configs:
        bots = bots.prefetch_related("model_configs")
    if category_id is not None:
        bots = bots.filter(category_id=category_id)
    return bots


# The first pages of the bot list are cached (`bytchat.api.cached_pages`) under BOT_LISTS,
# which every write of a bot, a model config or a category renews
# (`services.bot_lists_forget`): a page shows other owners' public bots.
BOT_LISTS = "bot-lists"
BOT_LIST_PAGES = "bot-list-page"


def bot_list_depends_on(*, user: User) -> tuple[str, ...]:
    """What a user's bot list shows besides the bots, their model configs and categories:
    the user's role (which bots they see, which they can edit), and whether accounts were
    deleted (and their bots with them)."""
    return (BOT_LISTS, row(CACHED_USERS, user.pk), ACCOUNT_DELETIONS)


def bot_list_model_configs_for_editor(*, user: User, bots: list[Bot]) -> list[Bot]:
    """Reads, in one query, the model configs of those of `bots` that `user` can edit: the
    only ones that show them (`Bot.model_config_list`). A plain list per bot, because
    Django's prefetch into `bot.model_configs` builds a queryset for every bot, which on a
    page of 20 took longer than the query itself."""
    editable = [bot for bot in bots if bot_can_edit(user=user, bot=bot)]
    prefetch_related_objects(editable, Prefetch("model_configs", to_attr=Bot.LISTED_MODEL_CONFIGS))
    return bots


def bot_list_owned(*, user: User) -> QuerySet[Bot]:
    """The user's own active bots, without the public and platform ones they may also use."""
    return bot_list(user=user).filter(owner=user)


@dataclass
class BotGroup:
    """Public bots of one active category; `category` None for those of none."""

    category: Category | None
    bots: list[Bot] = field(default_factory=list)


@dataclass
class BotCatalogue:
    own: list[Bot]
    public_groups: list[BotGroup]


def bot_catalogue(*, user: User, language: str) -> BotCatalogue:
    """What a user can chat with, in one query: their own bots, and the public bots of
    others grouped by active category (by display order, then name in `language`), the
    bots of no active category last."""
    visible = list(bot_list(user=user))
    own = [bot for bot in visible if bot.owner_id == user.pk]
    groups: dict[Any, BotGroup] = {}
    for bot in visible:
        if bot.owner_id == user.pk or not bot.is_public:
            continue
        category = bot.category if bot.category and bot.category.is_active else None
        groups.setdefault(category.pk if category else None, BotGroup(category=category)).bots.append(bot)

    def order(group: BotGroup) -> tuple:
        if group.category is None:
            return (1, 0, "")
        return (0, group.category.display_order, group.category.name_for(language))

    return BotCatalogue(own=own, public_groups=sorted(groups.values(), key=order))


def bot_single_assistant(*, user: User, configured_id: str = "") -> Bot | None:
    """The bot that answers the clients of a single-assistant system (ESCOMBOT, Champions),
    whose requests name no bot: the configured one if the user may see it, else (nothing
    configured) the oldest public platform agent. None when there is no such bot."""
    if configured_id:
        try:
            return bot_get_visible(user=user, bot_id=configured_id)
        except NotFound:
            return None
    return bot_list(user=user).filter(owner__isnull=True, is_public=True).order_by("created_at", "id").first()


def _get(queryset: QuerySet, pk: Any, message: str):
    try:
        found = queryset.filter(pk=pk).first()
    except (ValidationError, ValueError):  # not a UUID
        found = None
    if found is None:
        raise NotFound(message)
    return found


def bot_get_visible(*, user: User, bot_id: Any) -> Bot:
    # No model configs: most callers do not use them, and those that do read them then.
    return _get(bot_list(user=user, model_configs=False), bot_id, "Bot not found.")


def bot_get_editable(*, user: User, bot_id: Any) -> Bot:
    bot = bot_get_visible(user=user, bot_id=bot_id)
    if not bot_can_edit(user=user, bot=bot):
        raise NotBotEditor()
    return bot


def bot_get_for_knowledge(*, user: User, bot_id: Any, write: bool = False) -> Bot:
    """A bot whose documents and search the caller may use: read for the owner and staff,
    write for those who may edit it."""
    bot = bot_get_visible(user=user, bot_id=bot_id)
    allowed = bot_can_edit(user=user, bot=bot) if write else bot_can_read_knowledge(user=user, bot=bot)
    if not allowed:
        raise NotBotEditor("Only the bot's owner and staff can see or change its knowledge.")
    return bot


def bot_get_for_chat(*, user: User, bot_id: Any) -> tuple[Bot, list[ModelConfig]]:
    """A bot the user may chat with, and its active model configs (with their endpoints),
    read through the cache: the bot services forget a bot on every write to it, its
    configs or its knowledge, and every bot when a model endpoint changes
    (`services.chat_bot_forget`, `services.model_endpoint_save`).

    The bot comes with `has_knowledge`: whether it has any chunk to search, so that a turn
    with a bot that has none skips the search."""
    read = chat_bot_read(bot_id)
    if read is None:
        raise NotFound("Bot not found.")
    found = cached_read(**read.kwargs(), load=lambda: _chat_bot_load(uuid.UUID(read.key)))
    if found is None or not bot_is_visible(user=user, bot=found[0]):
        raise NotFound("Bot not found.")
    return found


def chat_bot_read(bot_id: Any) -> Read | None:
    """`bot_get_for_chat`'s cache read (None: `bot_id` is not a UUID), for
    `bytchat.cached.read_ahead`."""
    try:
        key = uuid.UUID(str(bot_id))
    except ValueError:
        return None
    return Read(CACHED_CHAT_BOTS, str(key), (EVERY_MODEL_ENDPOINT, ACCOUNT_DELETIONS))


def _chat_bot_load(bot_id: uuid.UUID) -> tuple[Bot, list[ModelConfig]] | None:
    bot = (
        Bot.objects.filter(pk=bot_id)
        .annotate(has_knowledge=Exists(Chunk.objects.filter(bot_id=OuterRef("pk"))))
        .first()
    )
    if bot is None:
        return None
    configs = list(
        ModelConfig.objects.select_related("endpoint")
        .filter(bot=bot, is_active=True)
        # A config whose platform endpoint is switched off is skipped.
        .exclude(endpoint__is_active=False)
    )
    for config in configs:
        config.bot = bot
    return bot, configs


def model_endpoint_list() -> QuerySet[ModelEndpoint]:
    return ModelEndpoint.objects.filter(is_active=True)


def model_config_list(*, bot: Bot) -> QuerySet[ModelConfig]:
    return bot.model_configs.all()


def model_config_get(*, bot: Bot, config_id: Any) -> ModelConfig:
    return _get(bot.model_configs.all(), config_id, "Model config not found.")


def bot_ready_document_names(*, bot: Bot, limit: int = 6) -> list[str]:
    return list(
        Document.objects.filter(bot=bot, status=DocumentStatus.READY)
        .order_by("-indexed_at", "-created_at")
        .values_list("original_name", flat=True)[:limit]
    )


def document_list(*, bot: Bot) -> QuerySet[Document]:
    return Document.objects.filter(bot=bot)


def document_get(*, bot: Bot, document_id: Any) -> Document:
    return _get(Document.objects.filter(bot=bot).select_related("bot"), document_id, "Document not found.")


def category_list(*, user: User) -> QuerySet[Category]:
    """Active categories with the number of agents the caller can see in each."""
    # Meta.ordering does not apply to an aggregating query: order explicitly.
    return (
        Category.objects.filter(is_active=True)
        .annotate(agent_count=Count("bots", filter=visible_bots_filter(user, prefix="bots__"), distinct=True))
        .order_by("display_order", "name_en")
    )


def category_get(*, user: User, category_id: Any) -> Category:
    """An active category; staff also reach soft-deleted ones, to restore them."""
    categories = Category.objects.annotate(
        agent_count=Count("bots", filter=visible_bots_filter(user, prefix="bots__"), distinct=True)
    )
    if not user.is_manager_or_admin:
        categories = categories.filter(is_active=True)
    return _get(categories, category_id, "Category not found.")
