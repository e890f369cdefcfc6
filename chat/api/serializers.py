from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bots.models import TaskType
from chat.models import Citation, Conversation, Feedback, Message, Rating


class ConversationSerializer(serializers.ModelSerializer):
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


class CitationSerializer(serializers.ModelSerializer):
    document_id = serializers.UUIDField(read_only=True, allow_null=True)
    page_number = serializers.IntegerField(read_only=True, allow_null=True)
    page_numbers = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Citation
        fields = ["index", "document_id", "source_name", "page_number", "page_numbers", "snippet", "score"]
        read_only_fields = fields


class InlineCitationSerializer(serializers.Serializer):
    citation_number = serializers.IntegerField()
    start_index = serializers.IntegerField()
    end_index = serializers.IntegerField()
    source_name = serializers.CharField()
    page_number = serializers.IntegerField(allow_null=True)


class MessageSerializer(serializers.ModelSerializer):
    tokens_used = serializers.IntegerField(read_only=True)
    citations = CitationSerializer(many=True, read_only=True)
    inline_citations = InlineCitationSerializer(many=True, read_only=True, allow_null=True)
    rating = serializers.SerializerMethodField(help_text="Your feedback on this answer, if any.")

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
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Rating.choices, allow_null=True))
    def get_rating(self, message: Message) -> str | None:
        # Annotated by `chat.selectors.message_list`; a freshly written answer has none.
        return getattr(message, "rating", None)


class ChatRequestSerializer(serializers.Serializer):
    bot = serializers.UUIDField()
    # Blank and length checks live in the engine, so every surface gets the same rule.
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)
    conversation = serializers.UUIDField(required=False, allow_null=True)
    task_type = serializers.ChoiceField(choices=TaskType.choices, required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, default=True)
    confirm_delete = serializers.BooleanField(required=False, default=False)


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
