"""Bots (called agents by some clients), their categories, model toolbox and knowledge.

A chunk's search index is not a model field: on PostgreSQL it is the `search_vector`
tsvector column (GIN-indexed) and on SQLite the `bots_chunk_fts` FTS5 table, both created
by migration 0002 and written by `bots.knowledge.search` right after the chunks.
"""

from __future__ import annotations

import uuid
from pathlib import PurePath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Language
from bytchat import crypto


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name_es = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    description_es = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    icon = models.CharField(max_length=64, blank=True, help_text="An emoji or an icon name.")
    display_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True, help_text="Off: hidden everywhere (soft delete).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_order", "name_en"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name_en or self.name_es

    def name_for(self, language: str) -> str:
        return _localized(self.name_es, self.name_en, language)

    def description_for(self, language: str) -> str:
        return _localized(self.description_es, self.description_en, language)


def _localized(spanish: str, english: str, language: str) -> str:
    """The text in `language`, else the other one: a bot may be written in one language."""
    if language == Language.EN:
        return english or spanish
    return spanish or english


class SearchMode(models.TextChoices):
    HYBRID = "hybrid", "hybrid"
    SEMANTIC = "semantic", "semantic"
    KEYWORD = "keyword", "keyword"


class Bot(models.Model):
    """An assistant. `owner` is null for platform agents, which staff create."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="bots"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="bots"
    )
    name_es = models.CharField(max_length=200, blank=True)
    name_en = models.CharField(max_length=200, blank=True)
    description_es = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    system_prompt = models.TextField(blank=True)
    language = models.CharField(
        max_length=2,
        choices=Language.choices,
        default=Language.ES,
        help_text="Answers and the knowledge search configuration use it.",
    )
    is_public = models.BooleanField(default=False, help_text="Visible to every user.")
    is_active = models.BooleanField(default=True, help_text="Off: deleted (soft delete).")
    search_mode = models.CharField(
        max_length=10,
        choices=SearchMode.choices,
        default=SearchMode.HYBRID,
        help_text="How the knowledge is searched: by meaning and words fused, by meaning, or by words.",
    )
    top_k = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many passages an answer is built from (unset: CHAT_KNOWLEDGE_CHUNKS).",
    )
    min_similarity = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-1.0), MaxValueValidator(1.0)],
        help_text="Passages found by meaning below this cosine similarity are left out.",
    )
    default_filter = models.JSONField(
        null=True,
        blank=True,
        help_text="A metadata filter (bots.knowledge.filters) that knowledge searches use when the "
        "question and its conversation name none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "is_active"]),
            models.Index(fields=["is_public", "is_active"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name_es="") | ~Q(name_en=""), name="bot_has_a_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_for(self.language)

    @property
    def is_platform(self) -> bool:
        return self.owner_id is None

    # Where `bots.selectors.bot_list_model_configs_for_editor` leaves a page's model configs.
    LISTED_MODEL_CONFIGS = "listed_model_configs"

    @property
    def model_config_list(self) -> list[ModelConfig]:
        """Its model configs: those a list selector read for its page, else (a single bot)
        through `model_configs`, which a `prefetch_related` may have filled."""
        listed = self.__dict__.get(self.LISTED_MODEL_CONFIGS)
        return list(self.model_configs.all()) if listed is None else listed

    def name_for(self, language: str) -> str:
        return _localized(self.name_es, self.name_en, language)

    def description_for(self, language: str) -> str:
        return _localized(self.description_es, self.description_en, language)


class TaskType(models.TextChoices):
    # Labels equal to the values, as the chat API spells its task_type choices, so that the
    # OpenAPI schema has one TaskTypeEnum.
    GENERAL = "general", "general"
    SIMPLE = "simple", "simple"
    COMPLEX = "complex", "complex"


class Provider(models.TextChoices):
    LOCAL = "local", "Local (offline, extractive)"
    OPENAI = "openai", "OpenAI"
    GEMINI = "gemini", "Google Gemini"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server"


def validate_base_url(value: str) -> None:
    """The URL's form only. Whether a user may aim at its host is `bytchat.outbound`'s rule,
    which the services apply to user-set URLs."""
    try:
        parsed = urlsplit(value)
        parsed.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValidationError("Enter a valid http:// or https:// URL.") from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError("Enter an http:// or https:// URL with a host name.")


class WithApiKey(models.Model):
    """An API key stored encrypted (`bytchat.crypto`), readable only by the server; what
    anyone is shown of it is `api_key_hint`."""

    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_hint = models.CharField(max_length=16, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    def set_api_key(self, api_key: str) -> None:
        """Store `api_key` (blank: none). The caller saves the row."""
        api_key = api_key.strip()
        self.api_key_encrypted = crypto.encrypt(api_key) if api_key else ""
        self.api_key_hint = crypto.secret_hint(api_key) if api_key else ""

    def get_api_key(self) -> str:
        """The key in clear, "" when there is none. Raises `crypto.DecryptionFailed`."""
        return crypto.decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""


class ModelEndpoint(WithApiKey):
    """A model server the operator registers (in the admin) for every bot to use. Its URL is
    trusted, so it may be internal (http://ollama:11434/v1); its key goes to it alone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=32, choices=Provider.choices)
    base_url = models.CharField(max_length=500, validators=[validate_base_url])
    is_active = models.BooleanField(default=True, help_text="Off: bots skip the model configs that use it.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(provider="local"), name="model_endpoint_not_local"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class ModelConfig(WithApiKey):
    """One model in a bot's toolbox. The engine tries the configs for a task type by
    ascending `priority` and fails over to the next one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="model_configs")
    task_type = models.CharField(max_length=16, choices=TaskType.choices, default=TaskType.GENERAL)
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.LOCAL)
    model_id = models.CharField(max_length=200)
    # Not a URLField: Django's URL validator refuses hosts without a dot, such as the
    # docker-compose service name in http://ollama:11434/v1.
    base_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_base_url],
        help_text="The user's own server; it must be public unless MODEL_BASE_URL_ALLOWED_HOSTS lists "
        "it, and it never gets a platform key.",
    )
    endpoint = models.ForeignKey(
        ModelEndpoint,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="model_configs",
        help_text="A platform endpoint registered by staff, instead of a base URL.",
    )
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 is tried first.")
    temperature = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)]
    )
    max_output_tokens = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(200_000)]
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task_type", "priority", "created_at"]
        indexes = [models.Index(fields=["bot", "is_active"])]

    def __str__(self) -> str:
        return f"{self.task_type}: {self.provider}/{self.model_id}"


class DocumentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


def document_upload_path(document: Document, filename: str) -> str:
    # The stored name is ours (the id); the user's name is kept in original_name.
    suffix = PurePath(filename).suffix.lower()
    return f"documents/{document.bot_id}/{document.pk}{suffix}"


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="documents")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=document_upload_path, max_length=500)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING)
    error_message = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    indexed_at = models.DateTimeField(null=True, blank=True)
    # Touched by the indexing task while it works: a `processing` document whose
    # heartbeat stopped lost its worker, and the sweep queues it again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The embedder (`bots.knowledge.embeddings`, its `key`) that made this document's
    # chunk vectors; empty until they are all made. Search compares only vectors of the
    # current embedder and searches other documents by keywords.
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dimensions = models.PositiveIntegerField(default=0)
    # Key-value tags (strings, numbers, dates as YYYY-MM-DD, lists of strings), as the user
    # set them; `DocumentMetadataValue` holds the same values typed, one row each, for search
    # filters. Only `bots.services.document_set_metadata` and the upload write either.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["bot", "status"])]

    def __str__(self) -> str:
        return self.original_name


class DocumentMetadataValue(models.Model):
    """One value of a document's metadata, typed so that a filter compares it in SQL: a
    string (`text`), a number (`number`, `text` blank) or a date (`date`, with its ISO form
    in `text` so that equality reads like the value the user wrote). A list of strings is one row per
    item. `bot` repeats `document.bot`: the keys a bot knows are read from here."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="metadata_values")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    text = models.CharField(max_length=255, blank=True)
    number = models.FloatField(null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["bot", "key", "text"], name="metadata_value_text"),
            models.Index(fields=["bot", "key", "number"], name="metadata_value_number"),
            models.Index(fields=["bot", "key", "date"], name="metadata_value_date"),
            models.Index(fields=["document"], name="metadata_value_document"),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.text if self.number is None else self.number}"


class Chunk(models.Model):
    """A passage of a document, immutable once written; re-indexing replaces them all.
    `bot` repeats `document.bot` so that a search filters without a join."""

    id = models.BigAutoField(primary_key=True)
    # The unique (document, position) index serves lookups by document.
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks", db_index=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    text = models.TextField()
    page_numbers = models.JSONField(default=list, blank=True)
    # float32 bytes, L2-normalised, of the document's `embedding_model`: the normalised
    # mean of its sentences' vectors (`bots.knowledge.vectors.embed_chunks`).
    embedding = models.BinaryField(null=True, blank=True)
    # float16 bytes of each of its sentences' vectors, one row per sentence, in order, for
    # ranking the best candidates by their best sentences (`bots.knowledge.vectors.rerank`).
    sentence_embeddings = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="chunk_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} #{self.position}"
