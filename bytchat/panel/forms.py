"""The panel's forms. They check the shape of the input; the rules (password strength,
email domains, duplicates, plan limits) stay in the services, whose errors the views put
back on the form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Language
from bots.models import Category


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), max_length=128, strip=False, widget=forms.PasswordInput)


class RegisterForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label=_("Repeat the password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices, initial=Language.ES)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_confirm"):
            self.add_error("password_confirm", _("The two passwords differ."))
        return cleaned


class PasswordForgotForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)


class PasswordResetForm(forms.Form):
    new_password = forms.CharField(
        label=_("New password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_confirm = forms.CharField(
        label=_("Repeat the new password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_password") and cleaned.get("new_password") != cleaned.get("new_password_confirm"):
            self.add_error("new_password_confirm", _("The two passwords differ."))
        return cleaned


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)


class BotForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False, empty_label=_("No category")
    )
    language = forms.ChoiceField(label=_("Language of the bot"), choices=Language.choices)
    system_prompt = forms.CharField(
        label=_("System prompt"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("The bot's personality and instructions."),
    )

    def __init__(self, *args, language: str = Language.ES, **kwargs):
        super().__init__(*args, **kwargs)
        category_field = self.fields["category"]
        category_field.queryset = Category.objects.filter(is_active=True).order_by("display_order", "name_en")
        category_field.label_from_instance = lambda category: category.name_for(language)


class BotEditForm(BotForm):
    """The bot form once the bot exists: its documents' metadata can be filtered on."""

    default_filter = forms.JSONField(
        label=_("Default knowledge filter"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_(
            "Answer only from the documents whose metadata match, unless a conversation sets its own: "
            '{"program": "DSCR"}, {"year": {"gte": 2024}}. Empty: every document.'
        ),
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    bots = forms.MultipleChoiceField(
        label=_("Bots"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every bot you may chat with."),
    )
    requests_per_minute = forms.IntegerField(
        label=_("Requests per minute"),
        required=False,
        min_value=1,
        help_text=_("Optional, within your plan's own limit."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=_("Optional."),
    )

    def __init__(self, *args, bots: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bots"].choices = bots
