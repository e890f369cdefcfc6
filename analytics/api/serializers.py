from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from analytics.periods import DEFAULT_DAYS, MAX_DAYS
from bots.models import Bot
from chat.models import ApiKey, Channel, Conversation, Rating, Run, RunStatus

# --- Query parameters -------------------------------------------------------------------


class PeriodQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS, help_text="The last N days, today included."
    )


class RankingQuerySerializer(PeriodQuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class ChannelQuerySerializer(PeriodQuerySerializer):
    channel = serializers.ChoiceField(
        choices=Channel.choices, required=False, help_text="Only this channel ('' is other)."
    )


class FeedbackQuerySerializer(PeriodQuerySerializer):
    bot = serializers.PrimaryKeyRelatedField(queryset=Bot.objects.all(), required=False)


class RunFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices, required=False)
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    bot = serializers.PrimaryKeyRelatedField(queryset=Bot.objects.all(), required=False)
    model = serializers.CharField(max_length=200, required=False)
    provider = serializers.CharField(max_length=32, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    api_key = serializers.PrimaryKeyRelatedField(queryset=ApiKey.objects.all(), required=False)
    date_from = serializers.DateField(required=False, input_formats=["iso-8601"])
    date_to = serializers.DateField(required=False, input_formats=["iso-8601"])

    def validate(self, attrs):
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise serializers.ValidationError({"date_to": ["date_to must not be before date_from."]})
        return attrs


class ConversationFilterSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    bot = serializers.PrimaryKeyRelatedField(queryset=Bot.objects.all(), required=False)
    archived = serializers.BooleanField(required=False, allow_null=True, default=None)


# --- Responses --------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateField(help_text="First day included.")
    end = serializers.DateField(help_text="Last day included: today.")


class BotRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="In the requesting user's language.")
    name_es = serializers.CharField()
    name_en = serializers.CharField()


class BotUsageSerializer(BotRefSerializer):
    runs = serializers.IntegerField()


class OverviewSerializer(serializers.Serializer):
    period = PeriodSerializer()
    total_users = serializers.IntegerField(help_text="Every account, whatever the period.")
    active_users = serializers.IntegerField(help_text="Users with at least one run in the period.")
    conversations = serializers.IntegerField(help_text="Conversations started in the period.")
    messages = serializers.IntegerField(help_text="Questions and answers written in the period.")
    runs = serializers.IntegerField(help_text="Answers attempted, whatever their outcome.")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    errors = serializers.IntegerField()
    incomplete = serializers.IntegerField(help_text="Answers cut short (the client went away).")
    error_rate = serializers.FloatField(allow_null=True, help_text="errors / runs.")
    latency_p50_ms = serializers.FloatField(
        allow_null=True, help_text="Over the period, from per-day histograms: within 1 % of the exact value."
    )
    latency_p95_ms = serializers.FloatField(allow_null=True)
    ttft_p50_ms = serializers.FloatField(allow_null=True, help_text="Time to first token.")
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    rated_answers = serializers.IntegerField()
    satisfaction = serializers.FloatField(allow_null=True, help_text="thumbs_up / rated_answers.")
    most_used_bot = BotUsageSerializer(allow_null=True)


class DailyPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    runs = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    errors = serializers.IntegerField()
    incomplete = serializers.IntegerField()
    active_users = serializers.IntegerField()
    conversations = serializers.IntegerField()
    messages = serializers.IntegerField()
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    satisfaction = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.FloatField(allow_null=True, help_text="Exact (percentile_cont) for the day.")
    latency_p95_ms = serializers.FloatField(allow_null=True)
    ttft_p50_ms = serializers.FloatField(allow_null=True)


class DailySeriesSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = DailyPointSerializer(many=True, help_text="One point per day, oldest first.")


class BotStatsSerializer(BotRefSerializer):
    is_active = serializers.BooleanField(help_text="False once the bot is deleted.")
    runs = serializers.IntegerField()
    conversations = serializers.IntegerField()
    messages = serializers.IntegerField()
    users = serializers.IntegerField(help_text="Distinct users with a run in the period.")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    satisfaction = serializers.FloatField(allow_null=True)
    latency_p95_ms = serializers.FloatField(allow_null=True)


class BotStatsListSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = BotStatsSerializer(many=True, help_text="Most runs first.")


class ChannelStatsSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    label = serializers.CharField()
    runs = serializers.IntegerField()
    errors = serializers.IntegerField()
    incomplete = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    active_users = serializers.IntegerField(help_text="Distinct users with a run in the period.")
    last_run_at = serializers.DateTimeField(allow_null=True)


class ChannelStatsListSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = ChannelStatsSerializer(many=True, help_text="Most runs first.")


class ApiKeyStatsSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="key_id")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's non-secret prefix.")
    user_id = serializers.UUIDField()
    user_email = serializers.EmailField()
    active = serializers.BooleanField(help_text="Not revoked and not expired.")
    last_used_at = serializers.DateTimeField(allow_null=True)
    runs = serializers.IntegerField()
    errors = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    last_run_at = serializers.DateTimeField(allow_null=True)


class ApiKeyStatsListSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = ApiKeyStatsSerializer(many=True, help_text="Most runs first.")


class UserStatsSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()
    runs = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    conversations = serializers.IntegerField(help_text="Started in the period.")
    messages = serializers.IntegerField(help_text="In the user's conversations, in the period.")
    last_activity = serializers.DateTimeField(allow_null=True, help_text="The user's latest run.")


class UserStatsListSerializer(serializers.Serializer):
    period = PeriodSerializer()
    results = UserStatsSerializer(many=True, help_text="Most tokens first.")


class RunFeedbackSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(allow_blank=True)


class FailedAttemptSerializer(serializers.Serializer):
    provider = serializers.CharField(required=False)
    model_id = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    config_id = serializers.CharField(required=False, allow_null=True)


class RunSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(allow_null=True, read_only=True)
    user_email = serializers.EmailField(source="user.email", allow_null=True, read_only=True, default=None)
    bot_id = serializers.UUIDField(allow_null=True, read_only=True)
    bot_name = serializers.SerializerMethodField()
    conversation_id = serializers.UUIDField(allow_null=True, read_only=True)
    message_id = serializers.UUIDField(allow_null=True, read_only=True, help_text="The answer, if stored.")
    input_preview = serializers.CharField(read_only=True)
    input_full = serializers.CharField(source="input_text", read_only=True)
    tokens_used = serializers.IntegerField(read_only=True)
    failed_attempts = FailedAttemptSerializer(
        many=True,
        read_only=True,
        help_text="Models that failed before the one that answered (or all of them).",
    )
    feedback = serializers.SerializerMethodField()
    api_key_id = serializers.UUIDField(allow_null=True, read_only=True, help_text="The API key, if any.")

    class Meta:
        model = Run
        fields = [
            "id",
            "user_id",
            "user_email",
            "bot_id",
            "bot_name",
            "conversation_id",
            "message_id",
            "input_preview",
            "input_full",
            "task_type",
            "provider",
            "model",
            "channel",
            "api_key_id",
            "input_tokens",
            "output_tokens",
            "tokens_used",
            "usage_source",
            "ttft_ms",
            "latency_ms",
            "status",
            "error_code",
            "failed_attempts",
            "feedback",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_bot_name(self, run: Run) -> str | None:
        if run.bot is None:
            return None
        return run.bot.name_for(self.context.get("language", "es"))

    @extend_schema_field(RunFeedbackSerializer(allow_null=True))
    def get_feedback(self, run: Run) -> dict | None:
        rating = getattr(run, "feedback_rating", None)
        if rating is None:
            return None
        return {"rating": rating, "comment": run.feedback_comment or ""}


class TopWordSerializer(serializers.Serializer):
    word = serializers.CharField()
    count = serializers.IntegerField()


class FeedbackCommentSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    user_email = serializers.EmailField(allow_null=True)
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class FeedbackGroupSerializer(BotRefSerializer):
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    satisfaction = serializers.FloatField(allow_null=True)
    comments = serializers.IntegerField(help_text="Thumbs-down ratings with a comment, in the period.")
    comments_analyzed = serializers.IntegerField(
        help_text="How many of them the word count read (the most recent ones, up to a cap)."
    )
    top_words = TopWordSerializer(many=True, help_text="Most frequent words, stop words (es, en) left out.")
    recent_comments = FeedbackCommentSerializer(many=True)


class FeedbackSummarySerializer(serializers.Serializer):
    period = PeriodSerializer()
    sample_limit = serializers.IntegerField(help_text="At most this many recent comments are word-counted.")
    results = FeedbackGroupSerializer(many=True, help_text="Most thumbs down first.")


class AdminConversationSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    user_email = serializers.EmailField(source="user.email", read_only=True)
    bot_id = serializers.UUIDField(read_only=True)
    bot_name = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "user_id",
            "user_email",
            "bot_id",
            "bot_name",
            "title",
            "archived",
            "message_count",
            "last_message_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_bot_name(self, conversation: Conversation) -> str:
        return conversation.bot.name_for(self.context.get("language", "es"))
