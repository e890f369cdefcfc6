"""API keys in the admin: staff see every key (never a secret, which is not stored) and
admins revoke them, through the same service as the API and the panel."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet

from chat.models import ApiKey
from chat.services.api_keys import api_key_revoke


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("yes", "Revoked"), ("no", "Not revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "masked",
        "user",
        "all_bots",
        "requests_per_minute",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = [RevokedFilter, "all_bots", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__email"]
    ordering = ["-created_at", "-id"]
    actions = ["revoke"]
    fields = [
        "id",
        "name",
        "masked",
        "user",
        "all_bots",
        "bots",
        "requests_per_minute",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="key")
    def masked(self, key: ApiKey) -> str:
        return key.masked

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # users create their keys: only they ever see the secret

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked instead: its runs keep pointing at it

    @admin.action(description="Revoke the selected API keys", permissions=["change"])
    def revoke(self, request, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key)
            revoked += 1
        self.message_user(request, f"{revoked} API key(s) revoked.", messages.SUCCESS)
