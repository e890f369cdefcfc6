from django import forms
from django.contrib import admin, messages
from django.contrib.auth.forms import ReadOnlyPasswordHashField

from accounts import services
from accounts.models import Plan, User, UserStatus
from bytchat.admin import ServiceAdmin


class UserCreationForm(forms.ModelForm):
    """The admin's add form. Its password and e-mail rules are `services.user_create`'s."""

    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ["email", "full_name", "role", "language", "plan"]


class UserChangeForm(forms.ModelForm):
    password = ReadOnlyPasswordHashField(
        help_text="Passwords are not stored in plain text. Users change theirs with the reset link."
    )

    class Meta:
        model = User
        fields = ["password", "full_name", "role", "plan", "language"]


@admin.register(User)
class UserAdmin(ServiceAdmin):
    """Users are created and changed through the account services: the e-mail domain
    policy, the password rules, and "not your own role or status" hold here as in the API."""

    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ["email", "full_name", "role", "status", "plan", "language", "created_at", "last_login"]
    list_filter = ["role", "status", "plan", "language"]
    search_fields = ["email", "full_name"]
    ordering = ["-created_at"]
    # Status changes go through the suspend/activate actions, which revoke tokens.
    # The e-mail is the login (no service changes it) and onboarding is the user's own step.
    readonly_fields = ["id", "email", "status", "onboarding_completed", "created_at", "last_login"]
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

    def save_model(self, request, obj: User, form, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = services.user_create(
                email=data["email"],
                password=data["password"],
                full_name=data.get("full_name", ""),
                language=data["language"],
                role=data["role"],
                plan=data.get("plan"),
            )
            obj.pk = created.pk
            obj._state.adding = False
            obj.refresh_from_db()
            return
        # The form has already set the new values on `obj`: the services compare with the
        # stored user.
        stored = User.objects.get(pk=obj.pk)
        services.user_admin_update(actor=request.user, user=stored, role=data["role"], plan=data.get("plan"))
        services.user_update_profile(user=stored, full_name=data["full_name"], language=data["language"])

    def save_related(self, request, form, formsets, change: bool) -> None:
        # Users have no inlines or many-to-many fields in these forms.
        pass

    def _set_status(self, request, queryset, status: str, verb: str) -> None:
        changed = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot change your own status.", messages.WARNING)
                continue
            services.user_set_status(actor=request.user, user=user, status=status)
            changed += 1
        self.message_user(request, f"{verb} {changed} user(s).", messages.SUCCESS)

    def delete_model(self, request, obj: User) -> None:
        services.user_delete(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            services.user_delete(user=user)

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

    # Through the services, which make a change hold from every user's next request.
    def save_model(self, request, obj: Plan, form, change: bool) -> None:
        services.plan_save(plan=obj)

    def delete_model(self, request, obj: Plan) -> None:
        services.plan_delete(plan=obj)

    def delete_queryset(self, request, queryset) -> None:
        for plan in queryset:
            services.plan_delete(plan=plan)
