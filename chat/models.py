from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200)
    archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # The knowledge filter its questions carry (bots.knowledge.filters): set by a turn that
    # sends one, kept for the follow-ups that do not. Null: the bot's default filter.
    metadata_filter = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="conversation_user_recent"),
            models.Index(fields=["user", "bot", "archived", "created_at"], name="conversation_user_bot"),
            # Staff read every user's conversations newest first (analytics, the admin).
            models.Index(fields=["-created_at", "-id"], name="conversation_recent"),
        ]

    def __str__(self) -> str:
        return self.title


class MessageRole(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class MessageStatus(models.TextChoices):
    COMPLETE = "complete", "Complete"
    INCOMPLETE = "incomplete", "Incomplete"
    ERROR = "error", "Error"
    # Stopped by its user (`POST /api/v1/chat/{message_id}/stop`): the partial answer.
    STOPPED = "stopped", "Stopped"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=MessageRole.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.COMPLETE)
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    inline_citations = models.JSONField(null=True, blank=True)
    # Versions of a turn (`chat.services.versions`): a regenerated answer or an edited
    # question points at the first version of its message. Every message a newer version
    # replaced, and the later turns an edit or a regeneration left behind (the earlier
    # branch), point at the message that replaced them and leave the conversation's list.
    version_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="later_versions"
    )
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        # (conversation, created_at, id): the order a conversation is read in, both ways, so
        # that its most recent messages are read without the rest (the chat turn's history).
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="message_conversation_order")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    @property
    def tokens_used(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def version_root_id(self):
        """The id shared by every version of this message: its first version's."""
        return self.version_of_id or self.pk


class Citation(models.Model):
    """A numbered source of an answer: [index] in its text points here."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="citations")
    index = models.PositiveIntegerField()
    document = models.ForeignKey("bots.Document", null=True, blank=True, on_delete=models.SET_NULL)
    source_name = models.CharField(max_length=255)
    page_numbers = models.JSONField(default=list, blank=True)
    snippet = models.TextField(blank=True)
    score = models.FloatField(default=0.0)
    # keyword, semantic or both: which knowledge retriever found the passage.
    retriever = models.CharField(max_length=16, blank=True)
    # The document's metadata when the answer was written ("program": "DSCR", ...).
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["message", "index"]
        constraints = [models.UniqueConstraint(fields=["message", "index"], name="citation_unique_index")]

    def __str__(self) -> str:
        return f"[{self.index}] {self.source_name}"

    @property
    def page_number(self) -> int | None:
        return self.page_numbers[0] if self.page_numbers else None


class Rating(models.TextChoices):
    THUMBS_UP = "thumbs_up", "Thumbs up"
    THUMBS_DOWN = "thumbs_down", "Thumbs down"


class Feedback(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=16, choices=Rating.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="feedback_one_per_user")]
        indexes = [
            models.Index(fields=["rating", "created_at"], name="feedback_rating_time"),
            models.Index(fields=["-created_at"], name="feedback_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.rating} on {self.message_id}"


class TokenUsage(models.Model):
    """A user's tokens in one calendar month (UTC): `used` by stored answers and `reserved`
    by answers still running. Admission to a turn is one conditional UPDATE of this row
    (`chat.services.limits.token_quota_reserve`), so parallel turns cannot pass the quota."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    used = models.PositiveBigIntegerField(default=0)
    reserved = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "month"], name="token_usage_one_per_month")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.month:%Y-%m}: {self.used} used, {self.reserved} reserved"


class TokenReservation(models.Model):
    """The tokens one running answer holds on its month's `TokenUsage`. Settling deletes
    it; one left by a process that died expires at `expires_at`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    usage = models.ForeignKey(TokenUsage, on_delete=models.CASCADE, related_name="reservations")
    tokens = models.PositiveIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["usage", "expires_at"], name="token_reservation_expiry")]

    def __str__(self) -> str:
        return f"{self.tokens} tokens until {self.expires_at:%Y-%m-%d %H:%M}"


class ApiKey(models.Model):
    """A user's key for the OpenAI-compatible API (`bytchat/openai_api`). It acts as its
    user (plan limits, status, bot visibility) but can only chat and list its models.

    It lives in chat, not accounts: its scope is a list of bots (above accounts in the
    layers), it is only ever used to chat, and each run records it. The secret
    (`bc_<prefix>_<secret>`) is stored only as a SHA-256 hash, found by its non-secret
    `prefix` and compared in constant time (`chat.services.api_keys`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    # Off: only the bots listed in `bots`. On: every bot the user may chat with.
    all_bots = models.BooleanField(default=True)
    bots = models.ManyToManyField("bots.Bot", blank=True, related_name="+")
    # Null: the plan's own messages_per_minute only.
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Updated at most once a minute (`api_keys.api_key_touch`).
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_key_user_recent")]

    def __str__(self) -> str:
        return f"{self.name} (bc_{self.prefix}_…)"

    @property
    def masked(self) -> str:
        return f"bc_{self.prefix}_…"

    @property
    def is_active(self) -> bool:
        """Not revoked and not expired (its user's status is checked on use)."""
        from django.utils import timezone

        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class Channel(models.TextChoices):
    """The surface a run came in through."""

    PANEL = "panel", "Panel"
    NATIVE = "native", "Native API"
    BYTCHAT_V1 = "bytchat_v1", "Bytchat v1 API"
    ESCOMBOT = "escombot", "ESCOMBOT API"
    MAGICAI = "magicai", "MagicAI API"
    CHAMPIONS = "champions", "Champions API"
    OPENAI = "openai", "OpenAI-compatible API"
    # Runs stored before channels were recorded, and scripts calling the engine directly.
    OTHER = "", "Other"


class RunStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"
    INCOMPLETE = "incomplete", "Incomplete"
    STOPPED = "stopped", "Stopped"


class UsageSource(models.TextChoices):
    # No model answered (nothing was counted), or the run predates this field.
    NONE = "", "Not counted"
    PROVIDER = "provider", "Reported by the provider"
    # The provider's usage never arrived (a client gone, a stream cut short): counted with
    # `chat.llm.base.estimate_tokens` over the prompt and the text streamed so far.
    ESTIMATED = "estimated", "Estimated"


class Run(models.Model):
    """One per answer, whatever its outcome: the record of each model call, which the chat
    engine writes and the token quota reads, and the raw material of every usage figure
    (analytics reads it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column index on user and bot: the (user, created_at) and (bot, created_at)
    # indexes below lead with them and serve the same lookups, for one index less per write.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="runs", db_index=False
    )
    bot = models.ForeignKey(
        "bots.Bot", null=True, on_delete=models.SET_NULL, related_name="runs", db_index=False
    )
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.SET_NULL, related_name="runs")
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="runs")
    input_text = models.TextField(blank=True)
    task_type = models.CharField(max_length=16, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=200, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # Blank on runs no model answered (and on runs stored before this was recorded).
    usage_source = models.CharField(max_length=16, choices=UsageSource.choices, blank=True, default="")
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    error_code = models.CharField(max_length=64, blank=True)
    failed_attempts = models.JSONField(default=list, blank=True)
    # Why the knowledge search fell back to keywords (the query could not be embedded).
    search_fallback = models.CharField(max_length=500, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True, default="")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # Created by analytics, which held this model before the chat engine did.
        db_table = "analytics_run"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="run_status_time"),
            models.Index(fields=["user", "-created_at"], name="run_user_time"),
            models.Index(fields=["bot", "-created_at"], name="run_bot_time"),
            models.Index(fields=["model", "-created_at"], name="run_model_time"),
            models.Index(fields=["channel", "-created_at"], name="run_channel_time"),
            models.Index(fields=["api_key", "-created_at"], name="run_api_key_time"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.provider}/{self.model} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def tokens_used(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def input_preview(self) -> str:
        return self.input_text if len(self.input_text) <= 80 else self.input_text[:77] + "..."
