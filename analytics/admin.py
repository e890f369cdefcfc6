"""Staff views of the analytics in the Django admin: the dashboard, and read-only lists
of runs, conversations (with their messages and ratings) and feedback.

chat has no admin of its own; its conversations and feedback are registered here, read
only, because staff read them alongside the runs.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from analytics import charts, selectors
from analytics.models import Dashboard
from analytics.periods import Period
from bots.models import ModelConfig, Provider
from chat.models import Conversation, Feedback, Message, Run
from chat.services import conversations

DASHBOARD_PERIODS = (7, 30, 90)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Figures and history are written by the product, never edited by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return Provider.choices

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class ModelFilter(admin.SimpleListFilter):
    """The models of the bots' toolboxes: a distinct over every run would scan them all."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = set(ModelConfig.objects.order_by().values_list("model_id", flat=True).distinct())
        if self.value():
            models.add(self.value())
        return [(model, model) for model in sorted(models)]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


def _rating_label(rating: str) -> str:
    return {"thumbs_up": "👍", "thumbs_down": "👎"}.get(rating, rating)


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "status",
        "user",
        "bot",
        "channel",
        "provider",
        "model",
        "tokens",
        "latency_ms",
        "ttft_ms",
        "error_code",
        "question",
    ]
    list_filter = [
        "status",
        "channel",
        ("api_key", admin.RelatedOnlyFieldListFilter),
        ProviderFilter,
        ModelFilter,
        ("bot", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["user", "bot"]
    ordering = ["-created_at", "-id"]
    # A count of every run on each page would be a full scan; the filtered count is enough.
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "created_at",
                    "status",
                    "error_code",
                    "user",
                    "bot",
                    "channel",
                    "api_key",
                    "conversation_link",
                ]
            },
        ),
        ("Question", {"fields": ["input_text", "task_type"]}),
        (
            "Model",
            {
                "fields": [
                    "provider",
                    "model",
                    "input_tokens",
                    "output_tokens",
                    "usage_source",
                    "ttft_ms",
                    "latency_ms",
                    "failed_attempts_display",
                ]
            },
        ),
        ("Answer", {"fields": ["message_link", "feedback_display"]}),
    ]
    readonly_fields = [
        "id",
        "created_at",
        "status",
        "error_code",
        "user",
        "bot",
        "channel",
        "api_key",
        "conversation_link",
        "input_text",
        "task_type",
        "provider",
        "model",
        "input_tokens",
        "usage_source",
        "output_tokens",
        "ttft_ms",
        "latency_ms",
        "failed_attempts_display",
        "message_link",
        "feedback_display",
    ]

    @admin.display(description="tokens")
    def tokens(self, run: Run) -> int:
        return run.tokens_used

    @admin.display(description="question")
    def question(self, run: Run) -> str:
        return Truncator(run.input_text).chars(60)

    @admin.display(description="conversation")
    def conversation_link(self, run: Run) -> str:
        if run.conversation_id is None:
            return "—"
        url = reverse("admin:chat_conversation_change", args=[run.conversation_id])
        return format_html('<a href="{}">{}</a>', url, run.conversation_id)

    @admin.display(description="answer")
    def message_link(self, run: Run) -> str:
        if run.message_id is None:
            return "— (no answer stored)"
        url = reverse("admin:chat_conversation_change", args=[run.conversation_id])
        return format_html('<a href="{}#message-{}">{}</a>', url, run.message_id, run.message_id)

    @admin.display(description="failed attempts")
    def failed_attempts_display(self, run: Run) -> str:
        if not run.failed_attempts:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(run.failed_attempts, indent=2, ensure_ascii=False))

    @admin.display(description="feedback on the answer")
    def feedback_display(self, run: Run) -> str:
        if run.message_id is None:
            return "—"
        feedback = Feedback.objects.filter(message_id=run.message_id, user_id=run.user_id).first()
        if feedback is None:
            return "—"
        return format_html("{} {}", _rating_label(feedback.rating), feedback.comment)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["created_at", "role", "status", "text", "model", "tokens", "ratings"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request) -> QuerySet[Message]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("feedback", queryset=Feedback.objects.all()))
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="text")
    def text(self, message: Message) -> str:
        return format_html(
            '<span id="message-{}">{}</span>', message.pk, Truncator(message.content).chars(400)
        )

    @admin.display(description="tokens")
    def tokens(self, message: Message) -> int:
        return message.tokens_used

    @admin.display(description="feedback")
    def ratings(self, message: Message) -> str:
        ratings = [f"{_rating_label(item.rating)} {item.comment}".strip() for item in message.feedback.all()]
        return " · ".join(ratings) or "—"


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["title", "user", "bot", "message_count", "archived", "created_at", "last_message_at"]
    list_filter = [
        "archived",
        ("bot", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "user__email"]
    list_select_related = ["user", "bot"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    fields = [
        "id",
        "title",
        "user",
        "bot",
        "archived",
        "archived_at",
        "message_count",
        "created_at",
        "last_message_at",
    ]
    readonly_fields = fields
    inlines = [MessageInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        # As in the API: admins may delete any conversation (its runs stay, detached).
        return bool(request.user.is_active and request.user.is_admin)

    # Through the service, as the API deletes: its owner's cached list pages are forgotten.
    def delete_model(self, request, obj: Conversation) -> None:
        conversations.conversation_delete(conversation=obj)

    def delete_queryset(self, request, queryset: QuerySet[Conversation]) -> None:
        for conversation in queryset:
            conversations.conversation_delete(conversation=conversation)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "rating_label", "comment_preview", "user", "bot", "conversation_link"]
    list_filter = [
        "rating",
        ("message__conversation__bot", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["comment", "user__email"]
    # The answer, its conversation and bot are fetched for the page only (by primary key):
    # joined into the list query, they would be joined for every rating before the sort.
    list_select_related = ["user"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False

    def get_queryset(self, request) -> QuerySet[Feedback]:
        return super().get_queryset(request).prefetch_related("message__conversation__bot")

    fields = ["id", "created_at", "updated_at", "rating", "comment", "user", "answer", "conversation_link"]
    readonly_fields = fields

    @admin.display(description="rating", ordering="rating")
    def rating_label(self, feedback: Feedback) -> str:
        return _rating_label(feedback.rating)

    @admin.display(description="comment")
    def comment_preview(self, feedback: Feedback) -> str:
        return Truncator(feedback.comment).chars(80) or "—"

    @admin.display(description="bot")
    def bot(self, feedback: Feedback):
        return feedback.message.conversation.bot

    @admin.display(description="answer")
    def answer(self, feedback: Feedback) -> str:
        return Truncator(feedback.message.content).chars(400)

    @admin.display(description="conversation")
    def conversation_link(self, feedback: Feedback) -> str:
        conversation = feedback.message.conversation
        url = reverse("admin:chat_conversation_change", args=[conversation.pk])
        return format_html('<a href="{}#message-{}">{}</a>', url, feedback.message_id, conversation.title)


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The dashboard page, listed in the admin index as Analytics > Dashboard. Every
    figure comes from the same selectors as the API."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        if days not in DASHBOARD_PERIODS:
            days = 30
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics dashboard",
            "opts": self.model._meta,
            **dashboard_context(days=days, language=getattr(request.user, "language", "es")),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)


def dashboard_context(*, days: int, language: str) -> dict:
    period = Period.last(days)
    overview = selectors.overview(period=period, language=language)
    points = selectors.daily_series(period=period)
    top_bots = selectors.bot_stats(period=period, language=language, limit=10)
    dates = [point.date for point in points]
    return {
        "period": period,
        "periods": DASHBOARD_PERIODS,
        "overview": overview,
        "charts": [
            charts.bar_chart("Runs per day", dates, [point.runs for point in points]),
            charts.bar_chart("Tokens per day", dates, [point.tokens for point in points]),
            charts.bar_chart("Errors per day", dates, [point.errors for point in points]),
            charts.line_chart(
                "Latency p95 (ms)", dates, [point.latency_p95_ms for point in points], unit=" ms"
            ),
            charts.line_chart(
                "Satisfaction (thumbs up / rated)",
                dates,
                [point.satisfaction for point in points],
                percent=True,
            ),
            charts.bar_chart("Active users per day", dates, [point.active_users for point in points]),
        ],
        "top_bots": charts.ranking([(bot.name, bot.runs) for bot in top_bots], unit=" runs"),
        "bot_rows": top_bots,
        "channel_rows": selectors.channel_stats(period=period),
        "api_key_rows": selectors.api_key_stats(period=period, limit=20),
    }
