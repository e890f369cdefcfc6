from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bots.models import TaskType
from bytchat.api.representation import LeanRepresentation
from bytchat.api.requests import RequestSerializer
from chat.models import ApiKey, Citation, Conversation, Feedback, Message, Rating
from chat.selectors import message_versions_count


class ConversationSerializer(LeanRepresentation, serializers.ModelSerializer):
    bot = serializers.UUIDField(source="bot_id", read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "bot",
            "title",
            "archived",
            "archived_at",
            "message_count",
            "last_message_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ConversationCreateSerializer(serializers.Serializer):
    bot = serializers.UUIDField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=False)
    confirm_delete = serializers.BooleanField(required=False, default=False)


class ConversationRenameSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class ConversationArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField()


class ConversationListFilterSerializer(serializers.Serializer):
    bot = serializers.UUIDField(required=False)
    archived = serializers.BooleanField(required=False, allow_null=True, default=None)


class CitationSerializer(LeanRepresentation, serializers.ModelSerializer):
    document_id = serializers.UUIDField(read_only=True, allow_null=True)
    page_number = serializers.IntegerField(read_only=True, allow_null=True)
    page_numbers = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    metadata = serializers.DictField(read_only=True, help_text="The cited document's metadata.")

    class Meta:
        model = Citation
        fields = [
            "index",
            "document_id",
            "source_name",
            "page_number",
            "page_numbers",
            "snippet",
            "score",
            "retriever",
            "metadata",
        ]
        read_only_fields = fields


class InlineCitationSerializer(serializers.Serializer):
    citation_number = serializers.IntegerField()
    start_index = serializers.IntegerField()
    end_index = serializers.IntegerField()
    source_name = serializers.CharField()
    page_number = serializers.IntegerField(allow_null=True)


class MessageSerializer(LeanRepresentation, serializers.ModelSerializer):
    tokens_used = serializers.IntegerField(read_only=True)
    citations = CitationSerializer(many=True, read_only=True)
    inline_citations = InlineCitationSerializer(many=True, read_only=True, allow_null=True)
    rating = serializers.SerializerMethodField(help_text="Your feedback on this answer, if any.")
    version_count = serializers.SerializerMethodField(
        help_text="How many versions this message has (regenerated answers, edited questions); "
        "the one shown is the newest."
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "content",
            "status",
            "model",
            "provider",
            "tokens_used",
            "inline_citations",
            "citations",
            "rating",
            "version_count",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Rating.choices, allow_null=True))
    def get_rating(self, message: Message) -> str | None:
        # Annotated by `chat.selectors.message_list`; a freshly written answer has none.
        return getattr(message, "rating", None)

    def get_version_count(self, message: Message) -> int:
        # Annotated by `chat.selectors.message_list`; a freshly written message is counted.
        count = getattr(message, "version_count", None)
        if count is None:  # a first version written just now has no other
            count = 1 if message.version_of_id is None else message_versions_count(root=message.version_of_id)
        return count


class MessageVersionSerializer(MessageSerializer):
    version = serializers.IntegerField(read_only=True, help_text="1 for the first version.")
    current = serializers.BooleanField(source="is_current", read_only=True)
    following = MessageSerializer(
        many=True,
        read_only=True,
        help_text="For a replaced version: the messages shown after it until it was replaced "
        "(its answer, later turns), which form its earlier branch.",
    )

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "version", "current", "following"]
        read_only_fields = fields


class MessageVersionListSerializer(serializers.Serializer):
    versions = MessageVersionSerializer(many=True)


class RegenerateRequestSerializer(RequestSerializer):
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False, allow_null=True)
    model = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A model id of the bot's toolbox: only its configs answer.",
    )
    stream = serializers.BooleanField(required=False, default=True)


class EditRequestSerializer(RequestSerializer):
    # Blank and length checks live in the engine, as for a new message.
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, default=True)


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "md"], required=False, default="json")


class ExportFeedbackSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(allow_blank=True)


class ExportMessageSerializer(MessageSerializer):
    feedback = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "feedback"]
        read_only_fields = fields

    @extend_schema_field(ExportFeedbackSerializer(allow_null=True))
    def get_feedback(self, message: Message) -> dict | None:
        if not getattr(message, "rating", None):
            return None
        return {"rating": message.rating, "comment": message.feedback_comment or ""}


class ExportBotSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ConversationExportSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    bot = ExportBotSerializer()
    exported_at = serializers.DateTimeField()
    messages = ExportMessageSerializer(many=True)


class ChatRequestSerializer(RequestSerializer):
    bot = serializers.UUIDField()
    # Blank and length checks live in the engine, so every surface gets the same rule.
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)
    conversation = serializers.UUIDField(required=False, allow_null=True)
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, default=True)
    confirm_delete = serializers.BooleanField(required=False, default=False)
    metadata_filter = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Search only the documents whose metadata match (docs/api.md, Metadata filters). "
        "The conversation keeps it for follow-ups that send none; {} lifts it. Null or absent: the "
        "conversation's, else the bot's default_filter.",
    )


class AnswerEventsQuerySerializer(serializers.Serializer):
    # The header `Last-Event-ID` (what EventSource sends) or this query parameter.
    last_event_id = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)


class ChatResultSerializer(serializers.Serializer):
    conversation = ConversationSerializer()
    user_message = MessageSerializer()
    assistant_message = MessageSerializer()


class FeedbackRequestSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FeedbackSerializer(serializers.ModelSerializer):
    message_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Feedback
        fields = ["id", "message_id", "rating", "comment", "created_at", "updated_at"]
        read_only_fields = fields


class SuggestionSerializer(serializers.Serializer):
    text = serializers.CharField()
    source = serializers.ChoiceField(choices=["feedback", "frequent", "default"])


class SuggestionListSerializer(serializers.Serializer):
    suggestions = SuggestionSerializer(many=True)


class SuggestionQuerySerializer(serializers.Serializer):
    bot = serializers.UUIDField()


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as listed: never its secret, only its non-secret prefix."""

    prefix = serializers.SerializerMethodField()
    bots = serializers.SerializerMethodField()
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "all_bots",
            "bots",
            "requests_per_minute",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_at",
            "active",
        ]
        read_only_fields = fields

    def get_prefix(self, key: ApiKey) -> str:
        return key.masked

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_bots(self, key: ApiKey) -> list[str]:
        return [str(bot.pk) for bot in key.bots.all()]

    def get_active(self, key: ApiKey) -> bool:
        return key.is_active


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: only its hash is stored.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    bots = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_null=True,
        max_length=200,
        help_text="The bots the key may use; omitted or null: every bot you may chat with.",
    )
    requests_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
