from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.text import Truncator

from bots import services
from bots.models import Bot, Category, Chunk, Document, ModelConfig, ModelEndpoint
from bots.services.catalog import STORED_CONFIG_FIELDS
from bytchat.admin import ServiceAdmin
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

    def save_model(self, request, obj: Category, form, change: bool) -> None:
        super().save_model(request, obj, form, change)  # the form, or a row of the list
        services.bot_lists_forget()  # the bot list shows categories

    # Deleting here is the API's soft delete: bots keep their category reference.
    def delete_model(self, request, obj: Category) -> None:
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset) -> None:
        for category in queryset:
            services.category_delete(category=category)


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
    """The toolbox rules of the API (`model_config_validate`), shown on their fields: where
    a config may send requests, and with which key. `BotAdmin.save_formset` stores it
    through the services."""

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

    # Through the services, which make a change hold from every bot's next chat turn.
    def save_model(self, request, obj: ModelEndpoint, form, change: bool) -> None:
        services.model_endpoint_save(endpoint=obj)

    def delete_model(self, request, obj: ModelEndpoint) -> None:
        services.model_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset) -> None:
        for endpoint in queryset:
            services.model_endpoint_delete(endpoint=endpoint)


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


BOT_FIELDS = ["name_es", "name_en", "description_es", "description_en", "system_prompt", "language"]


@admin.register(Bot)
class BotAdmin(ServiceAdmin):
    """Bots are created with `bot_create` (the owner's plan limit, the default local
    model; further models are added on the change page) and changed with `bot_update`
    (a new language re-indexes the documents). Deleting is the soft delete; the owner is
    set once."""

    list_display = ["__str__", "owner", "category", "language", "is_public", "is_active", "created_at"]
    list_filter = ["is_public", "is_active", "language", "category"]
    search_fields = ["name_es", "name_en", "owner__email"]
    list_select_related = ["owner", "category"]
    autocomplete_fields = ["owner", "category"]
    fields = [
        "id",
        "owner",
        *BOT_FIELDS,
        "category",
        "is_public",
        "default_filter",
        "is_active",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [ModelConfigInline, DocumentInline]
    actions = ["reindex_documents"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:  # a new bot has no documents whose metadata a filter could name
            return [*self.readonly_fields, "is_active", "default_filter"]
        return [*self.readonly_fields, "owner", "is_active"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj: Bot, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            current = Bot.objects.get(pk=obj.pk)
            changes = {
                name: data[name]
                for name in form.changed_data
                if name in [*BOT_FIELDS, "category", "is_public", "default_filter"]
            }
            bot = services.bot_update(user=request.user, bot=current, **changes)
        else:
            owner = data.get("owner")
            bot = services.bot_create(
                user=owner or request.user,
                platform=owner is None,
                category=data.get("category"),
                **{name: data[name] for name in BOT_FIELDS},
            )
            if data.get("is_public"):
                bot = services.bot_update(user=request.user, bot=bot, is_public=True)
        # The admin goes on with the form's instance (inlines, log entry, redirect).
        obj.__dict__.update({key: value for key, value in bot.__dict__.items() if key != "_state"})
        obj._state.adding, obj._state.db = False, bot._state.db

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not ModelConfig:
            return super().save_formset(request, form, formset, change)
        # Added and activated configs first, so that a bot swapping its models never
        # passes through having none active; the services refuse to remove the last one.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        kept = [f for f in formset.forms if f.has_changed() and f not in formset.deleted_forms]
        for config_form in sorted(kept, key=lambda f: not f.cleaned_data.get("is_active", False)):
            adding = config_form.instance._state.adding
            names = STORED_CONFIG_FIELDS if adding else config_form.changed_data
            fields = {name: config_form.cleaned_data[name] for name in names if name in STORED_CONFIG_FIELDS}
            key = config_form.api_key_change()
            if key is not None:
                fields["api_key"] = key
            if adding:
                formset.new_objects.append(services.model_config_add(bot=form.instance, **fields))
            elif fields:
                config = ModelConfig.objects.get(pk=config_form.instance.pk)
                services.model_config_update(config=config, **fields)
                formset.changed_objects.append((config, config_form.changed_data))
        for config_form in formset.deleted_forms:
            if not config_form.instance._state.adding:
                config = ModelConfig.objects.get(pk=config_form.instance.pk)
                services.model_config_remove(config=config)
                formset.deleted_objects.append(config)

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


class DocumentAdminForm(forms.ModelForm):
    class Meta:
        model = Document
        fields = ["metadata"]
        help_texts = {
            "metadata": 'A JSON object: {"program": "DSCR", "year": 2024, "effective": "2024-03-01", '
            '"tags": ["rental"]}. Saving it does not re-index the document.'
        }

    def clean_metadata(self):
        from bots.knowledge.filters import metadata_clean

        try:
            return metadata_clean(self.cleaned_data.get("metadata"))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(Document)
class DocumentAdmin(ServiceAdmin):
    """Read-only but for its metadata, which `document_set_metadata` writes."""

    form = DocumentAdminForm
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

    def save_model(self, request, obj: Document, form, change: bool) -> None:
        if "metadata" in form.changed_data:
            services.document_set_metadata(
                document=Document.objects.get(pk=obj.pk), metadata=form.cleaned_data["metadata"]
            )

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
