"""Categories, bots and their model toolbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from accounts.selectors import user_plan
from accounts.services import user_limits_lock
from bots.errors import LastModelConfig, PlanLimitReached, StaffOnly
from bots.models import (
    Bot,
    Category,
    DocumentStatus,
    ModelConfig,
    ModelEndpoint,
    Provider,
    SearchMode,
    TaskType,
)
from bots.selectors import BOT_LISTS, CACHED_CHAT_BOTS, EVERY_MODEL_ENDPOINT
from bytchat import outbound
from bytchat.cached import forget, forget_all
from bytchat.errors import InvalidInput

DEFAULT_LOCAL_CONFIG = {"task_type": TaskType.GENERAL, "provider": Provider.LOCAL, "model_id": "local"}
CATEGORY_FIELDS = (
    "name_es",
    "name_en",
    "description_es",
    "description_en",
    "icon",
    "display_order",
    "is_active",
)
STORED_CONFIG_FIELDS = (
    "task_type",
    "provider",
    "model_id",
    "base_url",
    "endpoint",
    "priority",
    "temperature",
    "max_output_tokens",
    "is_active",
)
MODEL_CONFIG_FIELDS = (*STORED_CONFIG_FIELDS, "api_key")


# --- What a chat turn reads from the cache -----------------------------------------------
def chat_bot_forget(*, bot_id: Any) -> None:
    """Call next to every write of a bot, its model configs or its chunks: chat turns read
    them through the cache (`selectors.bot_get_for_chat`), and a change must hold from the
    next turn in every process."""
    forget(CACHED_CHAT_BOTS, str(bot_id))


def bot_lists_forget() -> None:
    """Call next to every write of what the bot list shows: a bot, its model configs, a
    category. Its first pages are cached (`selectors.bot_list_depends_on`) and show other
    owners' public bots, so a change to any bot forgets every user's."""
    forget_all(BOT_LISTS)


# --- Categories --------------------------------------------------------------------------
def category_create(
    *,
    name_es: str,
    name_en: str,
    description_es: str = "",
    description_en: str = "",
    icon: str = "",
    display_order: int = 0,
    is_active: bool = True,
) -> Category:
    category = Category.objects.create(
        name_es=name_es,
        name_en=name_en,
        description_es=description_es,
        description_en=description_en,
        icon=icon,
        display_order=display_order,
        is_active=is_active,
    )
    bot_lists_forget()
    return category


def category_update(*, category: Category, **changes: Any) -> Category:
    unknown = set(changes) - set(CATEGORY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown category fields: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(category, name, value)
    category.save()
    bot_lists_forget()
    return category


def category_delete(*, category: Category) -> None:
    """A soft delete: the category disappears from lists; its agents stay."""
    category.is_active = False
    category.save(update_fields=["is_active", "updated_at"])
    bot_lists_forget()


def _check_category(category: Category | None) -> None:
    if category is not None and not category.is_active:
        raise InvalidInput(fields={"category": ["This category no longer exists."]})


# --- Bots --------------------------------------------------------------------------------
def _names(
    *, language: str, name: str | None, description: str | None, fields: dict[str, str]
) -> dict[str, str]:
    """`name` and `description` fill the bot language's slot unless it is given explicitly."""
    if name is not None:
        fields.setdefault(f"name_{language}", name)
    if description is not None:
        fields.setdefault(f"description_{language}", description)
    return {key: value.strip() for key, value in fields.items()}


def bot_create(
    *,
    user: User,
    name: str | None = None,
    description: str | None = None,
    name_es: str | None = None,
    name_en: str | None = None,
    description_es: str | None = None,
    description_en: str | None = None,
    system_prompt: str = "",
    language: str | None = None,
    category: Category | None = None,
    is_public: bool = False,
    platform: bool = False,
    initial_configs: Sequence[dict[str, Any]] | None = None,
    search_mode: str = SearchMode.HYBRID,
    top_k: int | None = None,
    min_similarity: float | None = None,
) -> Bot:
    """A bot for `user`, or a platform agent (no owner) when an admin asks for one. Without
    `initial_configs` the bot answers with the offline `local` model."""
    if (is_public or platform) and not user.is_admin:
        raise StaffOnly("Only administrators can create platform agents or make a bot public.")
    language = language or user.language
    given = {
        key: value
        for key, value in {
            "name_es": name_es,
            "name_en": name_en,
            "description_es": description_es,
            "description_en": description_en,
        }.items()
        if value is not None
    }
    texts = _names(language=language, name=name, description=description, fields=given)
    if not (texts.get("name_es") or texts.get("name_en")):
        raise InvalidInput("A bot needs a name.", fields={"name": ["This field is required."]})
    _check_category(category)
    configs = _clean_initial_configs(initial_configs or [DEFAULT_LOCAL_CONFIG])
    if not any(config.get("is_active", True) for config in configs):
        raise InvalidInput(fields={"initial_configs": ["At least one model config must be active."]})
    with transaction.atomic():
        if not platform:
            user_limits_lock(user=user)
            limit = user_plan(user).max_bots
            if limit is not None and Bot.objects.filter(owner=user, is_active=True).count() >= limit:
                raise PlanLimitReached(
                    f"Your plan allows {limit} bots. Delete one or move to a bigger plan.",
                    extra={"limit": limit},
                )
        bot = Bot.objects.create(
            owner=None if platform else user,
            category=category,
            system_prompt=system_prompt,
            language=language,
            is_public=is_public,
            search_mode=search_mode,
            top_k=top_k,
            min_similarity=min_similarity,
            **texts,
        )
        ModelConfig.objects.bulk_create(_apply_config(ModelConfig(bot=bot), config) for config in configs)
        bot_lists_forget()
    return bot


def bot_update(
    *,
    user: User,
    bot: Bot,
    name: str | None = None,
    description: str | None = None,
    **changes: Any,
) -> Bot:
    """Change a bot. Changing its language re-indexes its documents, whose search index
    depends on it."""
    allowed = {
        "name_es",
        "name_en",
        "description_es",
        "description_en",
        "system_prompt",
        "language",
        "category",
        "is_public",
        "search_mode",
        "top_k",
        "min_similarity",
        "default_filter",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown bot fields: {sorted(unknown)}")
    if "is_public" in changes and changes["is_public"] != bot.is_public and not user.is_admin:
        raise StaffOnly("Only administrators can make a bot public or private.")
    if "category" in changes:
        _check_category(changes["category"])
    if "default_filter" in changes:
        from bots.knowledge.filters import filter_validate

        # {} and null both mean no default: every document.
        changes["default_filter"] = (
            filter_validate(changes["default_filter"], bot=bot, field="default_filter") or None
        )
    language = changes.get("language", bot.language)
    texts = _names(
        language=language,
        name=name,
        description=description,
        fields={key: changes.pop(key) for key in list(changes) if key.startswith(("name_", "description_"))},
    )
    changes.update(texts)
    if not (changes.get("name_es", bot.name_es) or changes.get("name_en", bot.name_en)):
        raise InvalidInput("A bot needs a name.", fields={"name": ["This field may not be blank."]})
    language_changed = language != bot.language
    with transaction.atomic():
        for field, value in changes.items():
            setattr(bot, field, value)
        bot.save()
        chat_bot_forget(bot_id=bot.pk)
        bot_lists_forget()
        if language_changed:
            from bots.services.documents import document_reindex_many

            document_reindex_many(
                documents=bot.documents.filter(status__in=[DocumentStatus.READY, DocumentStatus.FAILED])
            )
    return bot


def bot_delete(*, bot: Bot) -> None:
    """A soft delete: the bot disappears for everyone; its conversations are kept."""
    with transaction.atomic():
        bot.is_active = False
        bot.save(update_fields=["is_active", "updated_at"])
        chat_bot_forget(bot_id=bot.pk)
        bot_lists_forget()


# --- Model toolbox -----------------------------------------------------------------------
def model_endpoint_save(*, endpoint: ModelEndpoint) -> ModelEndpoint:
    """Register or change a platform endpoint (the admin's form): every bot's cached model
    configs are forgotten, so that turns use the new URL, key or switch from the next one."""
    with transaction.atomic():
        endpoint.save()
        forget_all(EVERY_MODEL_ENDPOINT)
    return endpoint


def model_endpoint_delete(*, endpoint: ModelEndpoint) -> None:
    """Delete an endpoint no model config uses (configs protect theirs)."""
    with transaction.atomic():
        endpoint.delete()
        forget_all(EVERY_MODEL_ENDPOINT)


def _clean_config(config: dict[str, Any], *, current: ModelConfig | None = None) -> dict[str, Any]:
    """The changes `config` makes, checked against where a config may send requests: a
    user-set base URL must pass `bytchat.outbound.check_url`; an endpoint must be active and
    serve the config's provider, and brings its own URL and key. `api_key` (blank: none) is
    the config's own key; left out, the stored one stays."""
    unknown = set(config) - set(MODEL_CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"Unknown model config fields: {sorted(unknown)}")
    merged = {name: getattr(current, name) for name in STORED_CONFIG_FIELDS} if current else {}
    merged.update(config)
    provider = merged.get("provider", Provider.LOCAL)
    base_url = (merged.get("base_url") or "").strip()
    model_id = (merged.get("model_id") or "").strip()
    endpoint: ModelEndpoint | None = merged.get("endpoint")
    api_key = config.get("api_key")
    errors: dict[str, list[str]] = {}
    if endpoint is not None:
        if base_url:
            errors["base_url"] = ["A model config takes a base URL or an endpoint, not both."]
        if api_key:
            errors["api_key"] = ["An endpoint brings its own key."]
        if not endpoint.is_active:
            errors["endpoint"] = ["This endpoint is not available."]
        elif endpoint.provider != provider:
            errors["endpoint"] = [f"This endpoint serves the {endpoint.provider} provider."]
    if provider == Provider.LOCAL:
        if base_url:
            errors["base_url"] = ["The local provider takes no base URL."]
        if api_key:
            errors["api_key"] = ["The local provider takes no API key."]
    elif (
        provider == Provider.OPENAI_COMPATIBLE
        and not base_url
        and endpoint is None
        and not settings.OPENAI_COMPATIBLE_BASE_URL
    ):
        errors["base_url"] = ["An OpenAI-compatible provider needs the server's base URL or an endpoint."]
    if base_url and "base_url" not in errors and ("base_url" in config or current is None):
        try:
            outbound.check_url(base_url)
        except outbound.UnsafeURL as exc:
            errors["base_url"] = [exc.message]
    if not model_id:
        if provider == Provider.LOCAL:
            model_id = "local"
        else:
            errors["model_id"] = ["This field is required for this provider."]
    if errors:
        raise InvalidInput(fields=errors)
    cleaned = dict(config)
    if "base_url" in config or current is None:
        cleaned["base_url"] = base_url
    if "model_id" in config or current is None:
        cleaned["model_id"] = model_id
    if endpoint is not None and (current is None or current.has_api_key):
        cleaned["api_key"] = ""  # the endpoint's key replaces the config's own
    return cleaned


def _clean_initial_configs(configs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each config checked; errors under its position, as a list serializer reports them."""
    cleaned, errors, failed = [], [], False
    for config in configs:
        try:
            cleaned.append(_clean_config(config))
            errors.append({})
        except InvalidInput as exc:
            errors.append(exc.fields or {})
            failed = True
    if failed:
        raise InvalidInput(fields={"initial_configs": errors})
    return cleaned


def _apply_config(config: ModelConfig, cleaned: dict[str, Any]) -> ModelConfig:
    for name, value in cleaned.items():
        if name == "api_key":
            config.set_api_key(value or "")
        else:
            setattr(config, name, value)
    return config


def _lock_bot(bot: Bot) -> None:
    Bot.objects.select_for_update().filter(pk=bot.pk).values_list("pk", flat=True).first()


def model_config_add(*, bot: Bot, **fields: Any) -> ModelConfig:
    config = _apply_config(ModelConfig(bot=bot), _clean_config(fields))
    with transaction.atomic():
        config.save()
        chat_bot_forget(bot_id=bot.pk)
        bot_lists_forget()
    return config


def model_config_validate(*, config: dict[str, Any], current: ModelConfig | None = None) -> dict[str, Any]:
    """The checks of `model_config_add` / `model_config_update`, for forms that save by
    themselves (the admin's inline). Raises `InvalidInput`."""
    return _clean_config(config, current=current)


def model_config_update(*, config: ModelConfig, **changes: Any) -> ModelConfig:
    cleaned = _clean_config(changes, current=config)
    with transaction.atomic():
        _lock_bot(config.bot)
        if cleaned.get("is_active") is False and config.is_active:
            _check_not_last(config)
        _apply_config(config, cleaned)
        config.save()
        chat_bot_forget(bot_id=config.bot_id)
        bot_lists_forget()
    return config


def model_config_remove(*, config: ModelConfig) -> None:
    with transaction.atomic():
        _lock_bot(config.bot)
        if config.is_active:
            _check_not_last(config)
        config.delete()
        chat_bot_forget(bot_id=config.bot_id)
        bot_lists_forget()


def _check_not_last(config: ModelConfig) -> None:
    others = ModelConfig.objects.filter(~Q(pk=config.pk), bot_id=config.bot_id, is_active=True)
    if not others.exists():
        raise LastModelConfig()
