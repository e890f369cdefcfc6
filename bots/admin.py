from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.text import Truncator

from bots import services
from bots.models import Bot, Category, Chunk, Document, ModelConfig, ModelEndpoint
from bots.services.catalog import DEFAULT_LOCAL_CONFIG, STORED_CONFIG_FIELDS
from bytchat.errors import InvalidInput


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


class ApiKeyForm(forms.ModelForm):
    """A write-only `api_key`: never shown again (its hint is), left blank it stays, and
    `clear_api_key` removes it."""

    api_key = forms.CharField(
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; leave blank to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the key")

    def api_key_change(self) -> str | None:
        """The new key ("" to remove it), or None to keep it."""
        if self.cleaned_data.get("clear_api_key"):
            return ""
        return self.cleaned_data.get("api_key") or None

    def save(self, commit: bool = True):
        change = self.api_key_change()
        if change is not None:
            self.instance.set_api_key(change)
        return super().save(commit=commit)


class ModelConfigForm(ApiKeyForm):
    """The toolbox rules of the API (`model_config_validate`): where a config may send
    requests, and with which key."""

    class Meta:
        model = ModelConfig
        fields = [*STORED_CONFIG_FIELDS, "bot"]

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("DELETE"):
            return cleaned
        current = None if self.instance._state.adding else ModelConfig.objects.get(pk=self.instance.pk)
        changes = {name: cleaned[name] for name in STORED_CONFIG_FIELDS if name in cleaned}
        if current is not None:
            changes = {name: value for name, value in changes.items() if getattr(current, name) != value}
        if self.api_key_change():
            changes["api_key"] = self.api_key_change()
        try:
            services.model_config_validate(config=changes, current=current)
        except InvalidInput as exc:
            for field, messages_ in (exc.fields or {}).items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned


class ModelConfigInline(admin.TabularInline):
    model = ModelConfig
    form = ModelConfigForm
    formset = ModelConfigFormSet
    extra = 0
    fields = [
        "task_type",
        "provider",
        "model_id",
        "base_url",
        "endpoint",
        "api_key",
        "api_key_hint",
        "clear_api_key",
        "priority",
        "temperature",
        "max_output_tokens",
        "is_active",
    ]
    readonly_fields = ["api_key_hint"]


class ModelEndpointForm(ApiKeyForm):
    class Meta:
        model = ModelEndpoint
        fields = ["name", "provider", "base_url", "is_active"]


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    """Model servers every bot may use. Their URL is trusted (it may be internal) and their
    key goes to it alone; users see only the name and the provider."""

    form = ModelEndpointForm
    list_display = ["name", "provider", "base_url", "api_key_hint", "is_active"]
    list_filter = ["provider", "is_active"]
    search_fields = ["name", "base_url"]
    fields = ["name", "provider", "base_url", "api_key", "api_key_hint", "clear_api_key", "is_active"]
    readonly_fields = ["api_key_hint"]


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
