"""The web panel's pages. Each view parses a form, calls one service or selector and
renders a template; the page's JavaScript does the rest through bytchat.panel.api.

Every page behind login runs in the user's language, and anything the user may not reach
(another user's conversation, a bot they cannot edit) is the panel's not-found page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as account_services
from accounts.models import Language
from bots import selectors as bot_selectors
from bots import services as bot_services
from bots.api.serializers import DocumentSerializer, ModelConfigSerializer
from bots.models import Provider, TaskType
from bytchat.api.client import client_ip
from bytchat.errors import DomainError, Forbidden, NotFound
from bytchat.panel import forms
from bytchat.panel.texts import error_text, js_texts
from chat import selectors as chat_selectors
from chat.api.serializers import ConversationSerializer, MessageSerializer
from chat.services import api_keys as api_key_services

LANGUAGES = {code for code, _label in Language.choices}


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "panel/not_found.html", status=404)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's 404 handler: an unknown address under /app/ (but not its JSON API)
    gets the panel's not-found page, which fits a phone; anything else, Django's own."""
    panel = reverse("panel:dashboard")
    if not request.path.startswith(panel) or request.path.startswith(panel + "api/"):
        return defaults.page_not_found(request, exception)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        _use_language(request, user.language)
    return _not_found(request)


def _use_language(request: HttpRequest, language: str) -> None:
    translation.activate(language)
    request.LANGUAGE_CODE = language


def panel_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required (back here after it), the user's language, and a 404 page for
    whatever the selectors refuse to show."""

    @functools.wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _use_language(request, request.user.language)
        try:
            return view(request, *args, **kwargs)
        except (NotFound, Forbidden, Http404):
            return _not_found(request)

    return wrapper


def _form_errors(form, exc: DomainError) -> None:
    """A service's error onto the form: field messages on their fields, else on top."""
    placed = False
    for name, field_messages in exc.fields.items():
        if name in form.fields:
            for message in field_messages:
                form.add_error(name, _(message))
            placed = True
    if not placed:
        form.add_error(None, error_text(exc))


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target.startswith("/") else fallback


def base_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"js_texts": js_texts(), **extra}


# --- Authentication ------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, reverse("panel:dashboard"))
    if request.user.is_authenticated:
        return redirect(next_url)
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.user_authenticate(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
        except DomainError as exc:
            form.add_error(None, error_text(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(next_url)
    return render(request, "panel/login.html", base_context(request, form=form, next=next_url))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("panel:login")


@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("panel:dashboard")
    if not settings.REGISTRATION_OPEN:
        return render(request, "panel/registration_closed.html", base_context(request), status=403)
    form = forms.RegisterForm(request.POST or None, initial={"language": translation.get_language()[:2]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account_services.user_create(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                language=data["language"],
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            _use_language(request, data["language"])
            messages.success(request, _("Your account is ready. Log in to start."))
            return redirect("panel:login")
    return render(request, "panel/register.html", base_context(request, form=form))


@require_http_methods(["GET", "POST"])
def password_forgot_view(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordForgotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account_services.password_reset_request(email=form.cleaned_data["email"])
        return render(request, "panel/password_forgot_sent.html", base_context(request))
    return render(request, "panel/password_forgot.html", base_context(request, form=form))


@require_http_methods(["GET", "POST"])
def password_reset_view(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    form = forms.PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account_services.password_reset_confirm(
                uid=uid, token=token, new_password=form.cleaned_data["new_password"]
            )
        except DomainError as exc:
            if "password" in exc.fields:
                for message in exc.fields["password"]:
                    form.add_error("new_password", message)
            else:
                form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Your password has been changed. Log in with the new one."))
            return redirect("panel:login")
    return render(request, "panel/password_reset.html", base_context(request, form=form))


@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the interface language: a cookie for visitors, the profile for users."""
    language = request.POST.get("language", "")
    next_url = _safe_next(request, reverse("panel:dashboard"))
    if language not in LANGUAGES:
        return redirect(next_url)
    if request.user.is_authenticated:
        account_services.user_update_profile(user=request.user, language=language)
    response = redirect(next_url)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


@panel_page
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = forms.ProfileForm(
        request.POST or None, initial={"full_name": user.full_name, "language": user.language}
    )
    if request.method == "POST" and form.is_valid():
        account_services.user_update_profile(
            user=user, full_name=form.cleaned_data["full_name"], language=form.cleaned_data["language"]
        )
        _use_language(request, user.language)
        messages.success(request, _("Your profile has been saved."))
        response = redirect("panel:profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    return render(request, "panel/profile.html", base_context(request, form=form, active="profile"))


# --- API keys (for the OpenAI-compatible API) ---------------------------------------------
@panel_page
@require_http_methods(["GET", "POST"])
def api_keys_view(request: HttpRequest) -> HttpResponse:
    """List, create (the secret is shown on this one response, never again) and revoke."""
    user = request.user
    usable = bot_selectors.bot_list(user=user).order_by("created_at", "id")
    form = forms.ApiKeyForm(
        request.POST or None, bots=[(str(bot.pk), bot.name_for(user.language)) for bot in usable]
    )
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = api_key_services.api_key_create(
                user=user,
                name=data["name"],
                bot_ids=data["bots"] or None,
                requests_per_minute=data["requests_per_minute"],
                expires_at=data["expires_at"],
            )
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            form = forms.ApiKeyForm(bots=form.fields["bots"].choices)
    context = base_context(
        request,
        form=form,
        created=created,
        keys=chat_selectors.api_key_list(user=user),
        base_url=request.build_absolute_uri("/" + settings.OPENAI_API_PREFIX),
        active="api-keys",
    )
    return render(request, "panel/api_keys.html", context)


@panel_page
@require_POST
def api_key_revoke_view(request: HttpRequest, key_id) -> HttpResponse:
    key = chat_selectors.api_key_get(user=request.user, key_id=key_id)
    api_key_services.api_key_revoke(key=key)
    messages.success(request, _("The API key has been revoked."))
    return redirect("panel:api-keys")


# --- Dashboard -------------------------------------------------------------------------------
def _bot_card(bot, language: str) -> dict[str, Any]:
    return {"bot": bot, "name": bot.name_for(language), "description": bot.description_for(language)}


@panel_page
def dashboard_view(request: HttpRequest) -> HttpResponse:
    user, language = request.user, request.user.language
    catalogue = bot_selectors.bot_catalogue(user=user, language=language)
    agent_groups = [
        {
            "name": group.category.name_for(language) if group.category else _("Other agents"),
            "icon": group.category.icon if group.category else "",
            "bots": [_bot_card(bot, language) for bot in group.bots],
        }
        for group in catalogue.public_groups
    ]
    recent = chat_selectors.conversation_list(user=user, archived=False).select_related("bot")[:8]
    context = base_context(
        request,
        own_bots=[_bot_card(bot, language) for bot in catalogue.own],
        agent_groups=agent_groups,
        recent_conversations=recent,
        language=language,
        active="dashboard",
    )
    return render(request, "panel/dashboard.html", context)


# --- Bots ----------------------------------------------------------------------------------
@panel_page
@require_http_methods(["GET", "POST"])
def bot_create_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = forms.BotForm(request.POST or None, language=user.language, initial={"language": user.language})
    if request.method == "POST" and form.is_valid():
        try:
            # The form's fields are the service's arguments.
            bot = bot_services.bot_create(user=user, **form.cleaned_data)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The bot has been created. Add knowledge documents below."))
            return redirect("panel:bot-edit", bot_id=bot.pk)
    return render(request, "panel/bot_create.html", base_context(request, form=form, active="bots"))


@panel_page
@require_http_methods(["GET", "POST"])
def bot_edit_view(request: HttpRequest, bot_id) -> HttpResponse:
    user = request.user
    bot = bot_selectors.bot_get_editable(user=user, bot_id=bot_id)
    initial = {
        "name": bot.name_for(bot.language),
        "description": bot.description_for(bot.language),
        "category": bot.category_id,
        "language": bot.language,
        "system_prompt": bot.system_prompt,
        "default_filter": bot.default_filter,
    }
    form = forms.BotEditForm(request.POST or None, language=user.language, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            bot_services.bot_update(user=user, bot=bot, **form.cleaned_data)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The bot has been saved."))
            return redirect("panel:bot-edit", bot_id=bot.pk)
    context = base_context(
        request,
        bot=bot,
        form=form,
        active="bots",
        editor_data={
            "bot_id": str(bot.pk),
            "configs": ModelConfigSerializer(bot_selectors.model_config_list(bot=bot), many=True).data,
            "documents": DocumentSerializer(bot_selectors.document_list(bot=bot)[:100], many=True).data,
            "providers": [{"value": value, "label": label} for value, label in Provider.choices],
            "task_types": [value for value, _label in TaskType.choices],
            "max_upload_mb": settings.MAX_UPLOAD_MB,
        },
    )
    return render(request, "panel/bot_edit.html", context)


@panel_page
@require_POST
def bot_delete_view(request: HttpRequest, bot_id) -> HttpResponse:
    bot = bot_selectors.bot_get_editable(user=request.user, bot_id=bot_id)
    bot_services.bot_delete(bot=bot)
    messages.success(request, _("The bot has been deleted."))
    return redirect("panel:dashboard")


# --- Chat ----------------------------------------------------------------------------------
def _chat_page(request: HttpRequest, *, bot, conversation=None) -> HttpResponse:
    user = request.user
    history = []
    if conversation is not None:
        history = MessageSerializer(chat_selectors.message_list(conversation=conversation), many=True).data
    conversation_list = chat_selectors.conversation_list(user=user, bot_id=bot.pk)
    context = base_context(
        request,
        bot=bot,
        bot_name=bot.name_for(user.language),
        bot_description=bot.description_for(user.language),
        conversation=conversation,
        active_conversations=[c for c in conversation_list if not c.archived],
        archived_conversations=[c for c in conversation_list if c.archived],
        active="chat",
        chat_data={
            "bot_id": str(bot.pk),
            "conversation": ConversationSerializer(conversation).data if conversation else None,
            "messages": history,
            "conversation_url": reverse("panel:conversation", args=["00000000-0000-0000-0000-000000000000"]),
            "new_chat_url": reverse("panel:bot-chat", args=[bot.pk]),
        },
    )
    return render(request, "panel/chat.html", context)


@panel_page
def bot_chat_view(request: HttpRequest, bot_id) -> HttpResponse:
    """A new conversation with a bot: it is created with the first question."""
    bot = bot_selectors.bot_get_visible(user=request.user, bot_id=bot_id)
    return _chat_page(request, bot=bot)


@panel_page
def conversation_view(request: HttpRequest, conversation_id) -> HttpResponse:
    conversation = chat_selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    bot = bot_selectors.bot_get_visible(user=request.user, bot_id=conversation.bot_id)
    return _chat_page(request, bot=bot, conversation=conversation)
