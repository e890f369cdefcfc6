from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.text import Truncator

from bots import services
from bots.models import Bot, Category, Chunk, Document, ModelConfig
from bots.services.catalog import DEFAULT_LOCAL_CONFIG


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name_es", "name_en", "icon", "display_order", "is_active", "bot_count"]
    list_editable = ["display_order", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name_es", "name_en"]
    ordering = ["display_order", "name_en"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(bot_count=Count("bots"))

    @admin.display(description="bots", ordering="bot_count")
    def bot_count(self, category: Category) -> int:
        return category.bot_count

    # Deleting here is the API's soft delete: bots keep their category reference.
    def delete_model(self, request, obj: Category) -> None:
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset) -> None:
        for category in queryset:
            services.category_delete(category=category)


class ModelConfigFormSet(BaseInlineFormSet):
    """The rule of `model_config_remove`: an existing bot keeps at least one active config."""

    def clean(self) -> None:
        super().clean()
        if self.instance._state.adding:
            return  # a new bot without configs gets the default one (BotAdmin.save_related)
        active = [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("is_active", False)
        ]
        if not active:
            raise ValidationError("A bot needs at least one active model config.")


class ModelConfigInline(admin.TabularInline):
    model = ModelConfig
    formset = ModelConfigFormSet
    extra = 0
    fields = [
        "task_type",
        "provider",
        "model_id",
        "base_url",
        "priority",
        "temperature",
        "max_output_tokens",
        "is_active",
    ]


class DocumentInline(admin.TabularInline):
    """Documents are uploaded through the API or `manage.py index_documents`, which check
    and index them; here they are shown, and re-indexed with the bot action."""

    model = Document
    extra = 0
    fields = ["original_name", "status", "error_message", "page_count", "chunk_count", "indexed_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "category", "language", "is_public", "is_active", "created_at"]
    list_filter = ["is_public", "is_active", "language", "category"]
    search_fields = ["name_es", "name_en", "owner__email"]
    list_select_related = ["owner", "category"]
    autocomplete_fields = ["owner", "category"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [ModelConfigInline, DocumentInline]
    actions = ["reindex_documents"]

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not form.instance.model_configs.filter(is_active=True).exists():
            ModelConfig.objects.create(bot=form.instance, **DEFAULT_LOCAL_CONFIG)

    # Deleting here is the API's soft delete: conversations and analytics keep the bot.
    def delete_model(self, request, obj: Bot) -> None:
        services.bot_delete(bot=obj)

    def delete_queryset(self, request, queryset) -> None:
        for bot in queryset:
            services.bot_delete(bot=bot)

    @admin.action(description="Re-index the documents of the selected bots")
    def reindex_documents(self, request, queryset) -> None:
        count = services.document_reindex_many(documents=Document.objects.filter(bot__in=queryset))
        self.message_user(request, f"{count} document(s) queued for indexing.", messages.SUCCESS)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "bot", "status", "page_count", "chunk_count", "size", "indexed_at"]
    list_filter = ["status", "content_type"]
    search_fields = ["original_name", "bot__name_es", "bot__name_en", "sha256"]
    list_select_related = ["bot"]
    readonly_fields = [
        "id",
        "bot",
        "uploaded_by",
        "file",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "status",
        "error_message",
        "page_count",
        "chunk_count",
        "indexed_at",
        "created_at",
        "updated_at",
    ]
    actions = ["reindex"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Re-index the selected documents")
    def reindex(self, request, queryset) -> None:
        count = services.document_reindex_many(documents=queryset)
        busy = queryset.count() - count
        self.message_user(request, f"{count} document(s) queued for indexing.", messages.SUCCESS)
        if busy:
            self.message_user(request, f"{busy} document(s) were already being indexed.", messages.WARNING)

    def delete_model(self, request, obj: Document) -> None:
        services.document_delete(document=obj)

    def delete_queryset(self, request, queryset) -> None:
        for document in queryset:
            services.document_delete(document=document)


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    """Read-only: chunks are written by indexing alone."""

    list_display = ["document", "position", "page_numbers", "excerpt"]
    list_select_related = ["document"]
    search_fields = ["document__original_name"]
    list_filter = [("document__status", admin.ChoicesFieldListFilter)]
    fields = ["document", "bot", "position", "page_numbers", "text"]
    readonly_fields = fields

    @admin.display(description="text")
    def excerpt(self, chunk: Chunk) -> str:
        return Truncator(chunk.text).chars(120)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
