from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Language
from bots.knowledge.query import MAX_QUERY_CHARS
from bots.knowledge.search import MAX_K
from bots.models import (
    Bot,
    Category,
    Document,
    ModelConfig,
    ModelEndpoint,
    Provider,
    SearchMode,
    TaskType,
    validate_base_url,
)
from bytchat.api.representation import LeanRepresentation

LANGUAGE_HELP = "Texts in this language: ?lang=, else Accept-Language, else the user's language."


# --- Categories --------------------------------------------------------------------------
class CategorySerializer(LeanRepresentation, serializers.ModelSerializer):
    """Localized for everyone; staff also get both languages and the active flag."""

    STAFF_FIELDS = ("name_es", "name_en", "description_es", "description_en", "is_active")

    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    agent_count = serializers.IntegerField(read_only=True, help_text="Agents the caller can see.")
    name_es = serializers.CharField(required=False, help_text="Staff only.")
    name_en = serializers.CharField(required=False, help_text="Staff only.")
    description_es = serializers.CharField(required=False, help_text="Staff only.")
    description_en = serializers.CharField(required=False, help_text="Staff only.")
    is_active = serializers.BooleanField(required=False, help_text="Staff only.")

    class Meta:
        model = Category
        fields = [
            "id",
            "name",
            "description",
            "icon",
            "display_order",
            "agent_count",
            "name_es",
            "name_en",
            "description_es",
            "description_en",
            "is_active",
        ]

    def get_name(self, category: Category) -> str:
        return category.name_for(self.context["language"])

    def get_description(self, category: Category) -> str:
        return category.description_for(self.context["language"])

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context["staff"]:
            for name in self.STAFF_FIELDS:
                data.pop(name, None)
        return data


class CategoryWriteSerializer(serializers.Serializer):
    name_es = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=100)
    description_es = serializers.CharField(required=False, allow_blank=True)
    description_en = serializers.CharField(required=False, allow_blank=True)
    icon = serializers.CharField(max_length=64, required=False, allow_blank=True)
    display_order = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    is_active = serializers.BooleanField(required=False)


# --- Model toolbox -----------------------------------------------------------------------
class ModelEndpointSerializer(serializers.ModelSerializer):
    """A platform endpoint as users see it: no URL, no key."""

    class Meta:
        model = ModelEndpoint
        fields = ["id", "name", "provider"]
        read_only_fields = fields


class ModelConfigSerializer(LeanRepresentation, serializers.ModelSerializer):
    api_key_hint = serializers.CharField(
        read_only=True, help_text="The end of the config's own API key (`sk-…abcd`); empty without one."
    )

    class Meta:
        model = ModelConfig
        fields = [
            "id",
            "task_type",
            "provider",
            "model_id",
            "base_url",
            "endpoint",
            "api_key_hint",
            "priority",
            "temperature",
            "max_output_tokens",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields


class ModelConfigWriteSerializer(serializers.Serializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices, default=TaskType.GENERAL)
    provider = serializers.ChoiceField(choices=Provider.choices, default=Provider.LOCAL)
    model_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    base_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Your own server, e.g. https://llm.example.com/v1. Its host must be public (unless the "
        "operator allows it); requests to it carry `api_key`, never the platform's keys.",
    )
    api_key = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=True,
        help_text="Your own key for this model: stored encrypted, never returned (see `api_key_hint`). "
        "Blank removes it; left out, the stored one stays.",
    )
    endpoint = serializers.PrimaryKeyRelatedField(
        queryset=ModelEndpoint.objects.all(),
        required=False,
        allow_null=True,
        help_text="A platform endpoint (`GET model-endpoints`) instead of a base URL.",
    )
    priority = serializers.IntegerField(min_value=1, max_value=100, default=1, help_text="1 is tried first.")
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, required=False, allow_null=True)
    max_output_tokens = serializers.IntegerField(
        min_value=1, max_value=200_000, required=False, allow_null=True
    )
    is_active = serializers.BooleanField(default=True)

    def validate_base_url(self, value: str) -> str:
        if value:
            try:
                validate_base_url(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return value


# --- Bots --------------------------------------------------------------------------------
class BotCategorySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class BotSerializer(LeanRepresentation, serializers.ModelSerializer):
    """Localized `name` and `description`, with both languages as stored. The system
    prompt and the model toolbox are shown to those who can change the bot."""

    EDITOR_FIELDS = ("system_prompt", "model_configs", "default_filter")

    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    is_platform = serializers.BooleanField(read_only=True, help_text="A platform agent, created by staff.")
    can_edit = serializers.SerializerMethodField()
    system_prompt = serializers.CharField(required=False, help_text="Only for those who can edit the bot.")
    model_configs = ModelConfigSerializer(
        many=True,
        source="model_config_list",
        required=False,
        help_text="Only for those who can edit the bot.",
    )
    default_filter = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="The metadata filter searches use when the question and its conversation send "
        "none (docs/api.md, Metadata filters). Only for those who can edit the bot.",
    )

    class Meta:
        model = Bot
        fields = [
            "id",
            "name",
            "description",
            "name_es",
            "name_en",
            "description_es",
            "description_en",
            "language",
            "category",
            "is_public",
            "is_platform",
            "can_edit",
            "search_mode",
            "top_k",
            "min_similarity",
            "system_prompt",
            "model_configs",
            "default_filter",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _language(self) -> str:
        return self.context["language"]

    def get_name(self, bot: Bot) -> str:
        return bot.name_for(self._language())

    def get_description(self, bot: Bot) -> str:
        return bot.description_for(self._language())

    @extend_schema_field(BotCategorySerializer(allow_null=True))
    def get_category(self, bot: Bot) -> dict | None:
        if bot.category is None or not bot.category.is_active:
            return None
        return {"id": bot.category.pk, "name": bot.category.name_for(self._language())}

    def get_can_edit(self, bot: Bot) -> bool:
        from bots.selectors import bot_can_edit

        return bot_can_edit(user=self.context["user"], bot=bot)

    def to_representation(self, instance):
        # The editor fields are not even read for others: a page of others' bots has no
        # model configs to show, and reading them would take a query per bot.
        return self.represent(instance, leave_out=() if self.get_can_edit(instance) else self.EDITOR_FIELDS)


class BotWriteSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, required=False, help_text="The name in the bot's language (fills name_es or name_en)."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    name_es = serializers.CharField(max_length=200, required=False, allow_blank=True)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description_es = serializers.CharField(required=False, allow_blank=True)
    description_en = serializers.CharField(required=False, allow_blank=True)
    system_prompt = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    is_public = serializers.BooleanField(required=False, help_text="Administrators only.")
    search_mode = serializers.ChoiceField(
        choices=SearchMode.choices,
        required=False,
        help_text="hybrid (meaning and words fused, the default), semantic (meaning) or keyword (words).",
    )
    top_k = serializers.IntegerField(
        min_value=1, max_value=MAX_K, required=False, allow_null=True, help_text="Passages per answer."
    )
    min_similarity = serializers.FloatField(
        min_value=-1.0,
        max_value=1.0,
        required=False,
        allow_null=True,
        help_text="Passages found by meaning below this cosine similarity are left out.",
    )
    default_filter = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="A metadata filter for the bot's searches when none is sent; null or {}: none.",
    )


class BotCreateSerializer(BotWriteSerializer):
    # A new bot has no documents, so no metadata key a filter could name: set it later.
    default_filter = None
    platform = serializers.BooleanField(
        required=False, default=False, help_text="Administrators only: a platform agent with no owner."
    )
    initial_configs = ModelConfigWriteSerializer(
        many=True, required=False, help_text="The model toolbox; one offline `local` model when omitted."
    )

    def validate_initial_configs(self, value):
        if len(value) > 20:
            raise serializers.ValidationError("At most 20 model configs.")
        return value


class BotListFilterSerializer(serializers.Serializer):
    category = serializers.UUIDField(required=False)


# --- Knowledge ---------------------------------------------------------------------------
METADATA_HELP = (
    "Key-value tags: strings, numbers, dates (YYYY-MM-DD) or lists of strings; "
    "search filters select documents by them."
)
FILTER_HELP = (
    'A metadata filter, a JSON object: {"program": "DSCR"}, {"year": {"gte": 2024}}, '
    '{"program": {"in": ["DSCR", "Alt Doc"]}}, {"or": [...]}, {"and": [...]}. '
    "A key none of the bot's documents has, or a malformed value, is a 400."
)


class DocumentSerializer(LeanRepresentation, serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    metadata = serializers.DictField(read_only=True, help_text=METADATA_HELP)

    class Meta:
        model = Document
        fields = [
            "id",
            "name",
            "content_type",
            "size",
            "sha256",
            "status",
            "error_message",
            "page_count",
            "chunk_count",
            "indexed_at",
            "metadata",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    # Empty files are refused by the upload service, with its own message.
    file = serializers.FileField(allow_empty_file=True, use_url=False, help_text=".txt, .md, .pdf or .docx")
    # Checked by the upload service (bots.knowledge.filters.metadata_clean).
    metadata = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20_000,
        help_text="A JSON object. " + METADATA_HELP,
    )


class DocumentUpdateSerializer(serializers.Serializer):
    metadata = serializers.JSONField(help_text="Replaces the document's metadata. " + METADATA_HELP)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_CHARS, allow_blank=True, trim_whitespace=True)
    k = serializers.IntegerField(
        min_value=1, max_value=MAX_K, required=False, help_text="How many chunks (unset: the bot's top_k)."
    )
    filter = serializers.CharField(required=False, allow_blank=True, max_length=4000, help_text=FILTER_HELP)


class SearchHitSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    document_id = serializers.UUIDField()
    document_name = serializers.CharField()
    position = serializers.IntegerField()
    page_numbers = serializers.ListField(child=serializers.IntegerField())
    score = serializers.FloatField(
        help_text="keyword: the full-text rank; semantic: the cosine similarity; hybrid: the reciprocal-rank fusion."
    )
    retriever = serializers.ChoiceField(
        choices=["keyword", "semantic", "both"], help_text="Which retriever found the passage."
    )
    similarity = serializers.FloatField(
        allow_null=True, help_text="Cosine similarity with the question, when found by meaning."
    )
    snippet = serializers.CharField()
    text = serializers.CharField()
    metadata = serializers.DictField(help_text="The document's metadata.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
