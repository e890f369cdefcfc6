from django import forms
from django.contrib import admin, messages
from django.contrib.auth.forms import ReadOnlyPasswordHashField

from accounts import services
from accounts.models import Plan, User, UserStatus


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ["email", "full_name", "role", "language", "plan"]

    def clean(self):
        cleaned = super().clean()
        from django.contrib.auth.password_validation import validate_password

        if cleaned.get("password"):
            candidate = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                validate_password(cleaned["password"], user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user


class UserChangeForm(forms.ModelForm):
    password = ReadOnlyPasswordHashField(
        help_text="Passwords are not stored in plain text. Users change theirs with the reset link."
    )

    class Meta:
        model = User
        fields = ["email", "password", "full_name", "role", "plan", "language", "onboarding_completed"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["email", "full_name", "role", "status", "plan", "language", "created_at", "last_login"]
    list_filter = ["role", "status", "plan", "language"]
    search_fields = ["email", "full_name"]
    ordering = ["-created_at"]
    # Status changes go through the suspend/activate actions, which revoke tokens.
    readonly_fields = ["id", "status", "created_at", "last_login"]
    list_select_related = ["plan"]
    actions = ["suspend", "activate"]
    fieldsets = [
        (None, {"fields": ["id", "email", "password", "full_name"]}),
        ("Access", {"fields": ["role", "status", "plan"]}),
        ("Preferences", {"fields": ["language", "onboarding_completed"]}),
        ("Dates", {"fields": ["created_at", "last_login"]}),
    ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = [*self.add_form.Meta.fields, "password"]
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["email", "password", "full_name", "role", "language", "plan"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def _set_status(self, request, queryset, status: str, verb: str) -> None:
        changed = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot change your own status.", messages.WARNING)
                continue
            services.user_set_status(actor=request.user, user=user, status=status)
            changed += 1
        self.message_user(request, f"{verb} {changed} user(s).", messages.SUCCESS)

    @admin.action(description="Suspend selected users (revokes their tokens)", permissions=["change"])
    def suspend(self, request, queryset):
        self._set_status(request, queryset, UserStatus.SUSPENDED, "Suspended")

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate(self, request, queryset):
        self._set_status(request, queryset, UserStatus.ACTIVE, "Activated")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_default",
        "max_bots",
        "max_conversations_per_bot",
        "max_active_conversations",
        "max_messages_per_conversation",
        "messages_per_minute",
        "monthly_token_quota",
    ]
